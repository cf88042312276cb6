"""Settings of the action executor: timeouts, retry limits, concurrency caps, the action DLQ."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import attrs
import httpx

from claimx_worker.actions.endpoint import endpoint_of
from claimx_worker.actions.retry import RetryPolicy
from claimx_worker.config.problems import ConfigValueError
from claimx_worker.http.backoff import Backoff


def _not_empty(_: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value == "":
        raise ConfigValueError(
            "must not be empty (leave it out to sign nothing)", key=attribute.name
        )


_ENDPOINT_SECRETS = "endpoint_signing_secrets"


def _by_endpoint(secrets: Mapping[str, str]) -> dict[str, str]:
    """``endpoint_signing_secrets`` keyed by endpoint (``scheme://host:port``, default port
    filled in); a key with a path, a non-http(s) scheme or an empty secret is refused."""
    by_endpoint: dict[str, str] = {}
    for key, secret in secrets.items():
        try:
            url = httpx.URL(key)
        except httpx.InvalidURL:
            url = httpx.URL()
        if url.scheme not in ("http", "https") or not url.host or url.path not in ("", "/"):
            raise ConfigValueError(
                f"{key!r} is not an endpoint: write scheme://host[:port], "
                "e.g. https://hooks.example.com",
                key=_ENDPOINT_SECRETS,
            )
        if not secret:
            raise ConfigValueError(f"the value of {key!r} is empty", key=_ENDPOINT_SECRETS)
        by_endpoint[endpoint_of(url)] = secret
    return by_endpoint


DEFAULT_DLQ_TOPIC = "claimx.actions.dlq"
DEFAULT_REPLAY_GROUP = "claimx-actions-dlq-replay"
"""Consumer group of ``claimx-worker dlq replay``."""


@attrs.frozen(kw_only=True)
class ActionSettings:
    """How actions are delivered. Every field has a production default; durations in seconds.

    ``signing_secret`` signs every webhook whose action gives none (Standard Webhooks; a
    ``whsec_`` prefix marks a base64 key, anything else is used as UTF-8 bytes);
    ``endpoint_signing_secrets`` gives an endpoint its own. ``allowed_destinations`` limits the
    hosts webhooks may call (see :mod:`claimx_worker.http.destinations`).
    """

    webhook_timeout: float = attrs.field(default=10.0, validator=attrs.validators.gt(0))
    """Per-request timeout of a webhook whose action does not set a positive one."""
    max_attempts: int = attrs.field(default=8, validator=attrs.validators.gt(0))
    """Attempts per action (webhook or publish) before it is dead-lettered; a parked webhook
    is retried until ``max_age`` instead."""
    max_age: float = attrs.field(default=600.0, validator=attrs.validators.gt(0))
    """Give up (dead-letter) once an action is this old, counted from its submission (a parked
    webhook: from its first attempt, or its parking when it made none)."""
    park_after: float = attrs.field(default=5.0, validator=attrs.validators.gt(0))
    """A webhook still undelivered this long after its submission (its endpoint down, failing
    or its circuit open) is parked on the action retry topic, so its event can commit; parked
    webhooks are redelivered in order per endpoint until ``max_age``."""
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
    signing_secret: str | None = attrs.field(default=None, repr=False, validator=_not_empty)
    """Default Standard Webhooks signing secret."""
    endpoint_signing_secrets: Mapping[str, str] = attrs.field(
        factory=dict, repr=False, converter=_by_endpoint
    )
    """Signing secrets per endpoint (``https://host[:port]``), before ``signing_secret``."""
    allowed_destinations: tuple[str, ...] = ()
    """Hosts webhooks may call: names, ``*.suffix`` patterns, addresses. Empty: any host but
    link-local and cloud metadata addresses."""

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry limits and backoff of these settings."""
        return RetryPolicy(
            max_attempts=self.max_attempts,
            max_age=self.max_age,
            backoff=Backoff(first=self.backoff_base, cap=self.backoff_cap),
        )

    def parking_policy(self, base: RetryPolicy) -> RetryPolicy:
        """``base`` (a webhook's retry policy) in its event's commit path: up to ``park_after``."""
        return attrs.evolve(base, max_age=min(self.park_after, base.max_age))

    @staticmethod
    def parked_policy(base: RetryPolicy) -> RetryPolicy:
        """``base`` (a webhook's retry policy) once parked: no attempt limit, up to its age."""
        return attrs.evolve(base, max_attempts=sys.maxsize)
