"""Settings of controlling a running worker: the ``control:`` section."""

from __future__ import annotations

from attrs import frozen


@frozen(kw_only=True)
class ControlSettings:
    """``control``: how a running ``claimx-worker run`` is reached by ``claimx-worker reload``."""

    pid_file: str = ""
    """File the worker writes its process id to while it runs (removed at exit), for
    ``claimx-worker reload`` to send it SIGHUP. ``""``: none (send SIGHUP yourself)."""
