"""Settings of the action executor: timeouts, retry limits, concurrency caps, the action DLQ."""

from __future__ import annotations

import attrs

from claimx_worker.actions.retry import RetryPolicy
from claimx_worker.http.backoff import Backoff

DEFAULT_DLQ_TOPIC = "claimx.actions.dlq"
DEFAULT_REPLAY_GROUP = "claimx-actions-dlq-replay"
"""Consumer group of ``claimx-worker dlq replay``."""


@attrs.frozen(kw_only=True)
class ActionSettings:
    """How actions are delivered. Every field has a production default; durations in seconds.

    ``signing_secret`` signs every webhook whose action gives none (Standard Webhooks; a
    ``whsec_`` prefix marks a base64 key, anything else is used as UTF-8 bytes).
    """

    webhook_timeout: float = attrs.field(default=10.0, validator=attrs.validators.gt(0))
    """Per-request timeout of a webhook whose action does not set a positive one."""
    max_attempts: int = attrs.field(default=8, validator=attrs.validators.gt(0))
    """Attempts per action (webhook or publish) before it is dead-lettered."""
    max_age: float = attrs.field(default=600.0, validator=attrs.validators.gt(0))
    """Give up (dead-letter) once an action is this old, counted from its submission."""
    backoff_base: float = attrs.field(default=0.5, validator=attrs.validators.gt(0))
    """First retry waits up to this long (full jitter); each retry doubles the bound."""
    backoff_cap: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))
    """Upper bound of one backoff wait (a ``Retry-After`` may ask for longer)."""
    endpoint_max_in_flight: int = attrs.field(default=512, validator=attrs.validators.gt(0))
    """Concurrent requests per webhook endpoint (``scheme://host:port``)."""
    breaker_threshold: int = attrs.field(default=5, validator=attrs.validators.gt(0))
    """Consecutive transient failures that open an endpoint's circuit."""
    breaker_reset: float = attrs.field(default=15.0, validator=attrs.validators.gt(0))
    """How long an open circuit waits before letting one probe request through."""
    topic_max_in_flight: int = attrs.field(default=1000, validator=attrs.validators.gt(0))
    """Unacknowledged ``PublishToTopic`` messages per topic."""
    signing_secret: str | None = attrs.field(default=None, repr=False)
    """Default Standard Webhooks signing secret."""

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry limits and backoff of these settings."""
        return RetryPolicy(
            max_attempts=self.max_attempts,
            max_age=self.max_age,
            backoff=Backoff(first=self.backoff_base, cap=self.backoff_cap),
        )
