"""Which action of which event: the deterministic idempotency key receivers de-duplicate on, and
the header that carries it on each transport."""

from __future__ import annotations

import uuid

import attrs

_NAMESPACE = uuid.UUID("5b0f6f3e-2b7c-5d7e-9c1e-6c6169d7a1c7")
"""Fixed namespace of the UUIDv5 keys; changing it would change every key."""

HTTP_IDEMPOTENCY_HEADER = "Idempotency-Key"
"""The HTTP header with the idempotency key of a webhook request."""
KAFKA_IDEMPOTENCY_HEADER = "idempotency_key"
"""The Kafka header with the idempotency key of a published action or an action DLQ record."""


def idempotency_key(event_id: str, instance: str, index: int) -> str:
    """UUIDv5 of (event id, plugin instance name, action index): the same for a redelivered
    event, different for any other action."""
    return str(uuid.uuid5(_NAMESPACE, f"{event_id}\x1f{instance}\x1f{index}"))


@attrs.frozen(kw_only=True)
class ActionRef:
    """An action's place: the event it came from, the plugin instance and its index there."""

    event_id: str
    project_id: str
    instance: str
    index: int
    key: str = attrs.field(
        default=attrs.Factory(
            lambda self: idempotency_key(self.event_id, self.instance, self.index),
            takes_self=True,
        ),
        init=False,
    )
    """The idempotency key (derived, never given)."""
