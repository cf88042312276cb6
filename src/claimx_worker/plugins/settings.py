"""Settings of the plugin host: the ``plugins:`` section (quarantine, hung hooks, the shadow
topic), and the instance keys ``mode`` and ``quarantine_policy``."""

from __future__ import annotations

import enum

from attrs import field, frozen, validators


class InstanceMode(enum.StrEnum):
    """An instance's ``mode``."""

    LIVE = "live"
    """Its actions are run."""
    SHADOW = "shadow"
    """Its actions are recorded on ``plugins.shadow_topic``, not run."""


class QuarantinePolicy(enum.StrEnum):
    """An instance's ``quarantine_policy``: what happens to events while it is quarantined."""

    SKIP = "skip"
    """Run the event without the instance (counted)."""
    HOLD = "hold"
    """Send the event to the retry path; it runs again once the instance is back."""


@frozen(kw_only=True)
class QuarantineSettings:
    """``plugins.quarantine``: when a failing plugin instance is quarantined, and for how long."""

    enabled: bool = True
    """``false``: never quarantine an instance for its error rate (a hung hook still is)."""
    error_rate: float = field(default=0.5, validator=[validators.gt(0), validators.le(1)])
    """Share of failed hook calls (above 0, at most 1) in the window that quarantines the
    instance."""
    min_calls: int = field(default=10, validator=validators.gt(0))
    """Calls needed in the window before its error rate counts."""
    window_seconds: float = field(default=60.0, validator=validators.gt(0))
    """The window the error rate is measured over."""
    cooldown_seconds: float = field(default=30.0, validator=validators.gt(0))
    """How long a quarantined instance is left out before one probe call decides."""


@frozen(kw_only=True)
class PluginSettings:
    """``plugins``: quarantine of failing instances, hung hooks, shadow mode."""

    quarantine: QuarantineSettings = field(factory=QuarantineSettings)
    """When a failing instance is quarantined (applied by a reload)."""
    hung_hook_seconds: float = field(default=2.0, validator=validators.gt(0))
    """A synchronous stage hook still running after this long (or after its time budget, if
    longer) is interrupted and its instance quarantined (applied by a reload)."""
    shadow_topic: str = "claimx.actions.shadow"
    """Where the actions of instances with ``mode: shadow`` are recorded instead of run."""
