"""Settings of the observability server: the ``metrics:`` section of the worker settings file."""

from __future__ import annotations

from attrs import field, frozen, validators

from claimx_worker.observability.server import DEFAULT_HOST


@frozen(kw_only=True)
class MetricsSettings:
    """``metrics``: the Prometheus endpoint (``/metrics``, ``/healthz``, ``/readyz``)."""

    host: str = DEFAULT_HOST
    """The address to bind: every interface by default, so that Prometheus and the
    orchestrator's probes reach it from outside the host or pod; ``127.0.0.1`` keeps it local.
    The server is read-only and serves no secret."""
    port: int = field(default=9100, validator=[validators.ge(0), validators.le(65535)])
