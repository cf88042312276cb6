"""Kafka publish delivery: one produce per attempt, at most N unacknowledged per topic.

The message keeps the action's headers and adds ``idempotency_key``; its key defaults to the
event's project id; the value is JSON (bytes pass through). Done when the broker acknowledges.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import attrs

from claimx_worker.actions.encoding import InvalidActionError, payload_bytes
from claimx_worker.actions.endpoint import acquire_before
from claimx_worker.actions.identity import KAFKA_IDEMPOTENCY_HEADER, ActionRef
from claimx_worker.actions.retry import Failure
from claimx_worker.model import PublishToTopic

Produce = Callable[[str, bytes, bytes | None, list[tuple[str, bytes]]], Awaitable[None]]
"""``produce(topic, value, key, headers)``: resolves when the broker acknowledges, raises when
the message is not delivered (the Kafka runtime provides it)."""


@attrs.frozen(kw_only=True)
class KafkaMessage:
    """A message ready to produce."""

    topic: str
    value: bytes = attrs.field(repr=False)
    key: bytes | None
    headers: list[tuple[str, bytes]] = attrs.field(repr=False)


def build_message(action: PublishToTopic, ref: ActionRef) -> KafkaMessage:
    """Encode ``action``; raises :class:`~claimx_worker.actions.encoding.InvalidActionError`
    (also for text that is not valid Unicode, which the Kafka client cannot take)."""
    headers = [
        (_checked(k, "header name"), _utf8(v, "header value"))
        for k, v in action.headers.items()
        if k != KAFKA_IDEMPOTENCY_HEADER
    ]
    headers.append((KAFKA_IDEMPOTENCY_HEADER, ref.key.encode()))
    key = ref.project_id if action.key is None else action.key
    return KafkaMessage(
        topic=action.topic,
        value=payload_bytes(action.value),
        key=_utf8(key, "key"),
        headers=headers,
    )


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise InvalidActionError(f"the message {what} is not valid UTF-8 text") from None


def _checked(text: str, what: str) -> str:
    _utf8(text, what)
    return text


class TopicPublisher:
    """Produces publish attempts, bounding unacknowledged messages per topic."""

    def __init__(
        self, produce: Produce, *, max_in_flight: int, on_attempt: Callable[[], None]
    ) -> None:
        self._produce = produce
        self._max_in_flight = max_in_flight
        self._on_attempt = on_attempt
        self._slots: dict[str, asyncio.Semaphore] = {}

    async def attempt(self, message: KafkaMessage, deadline: float) -> Failure | None:
        """Produce once (after a free slot on the topic, no later than ``deadline``)."""
        slots = self._slots.get(message.topic)
        if slots is None:
            slots = self._slots[message.topic] = asyncio.Semaphore(self._max_in_flight)
        if not await acquire_before(slots, deadline):
            return Failure(
                error=f"no free slot on topic {message.topic} until the action's maximum age",
                retryable=False,
                attempted=False,
            )
        self._on_attempt()
        try:
            await self._produce(message.topic, message.value, message.key, message.headers)
        except Exception as exc:  # any produce failure is worth another attempt
            return Failure(error=f"{type(exc).__name__}: {exc}".rstrip(": "), retryable=True)
        finally:
            slots.release()
        return None
