"""Sending ClaimX events to the worker's input topic, as upstream does (JSON, keyed by project
id): events read from a JSON or JSON-lines document, or sample events made by the factories.
For ``claimx-worker produce`` and the demo."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import frozen
from confluent_kafka import KafkaError, Producer

from claimx_worker.errors import InvalidEventError
from claimx_worker.kafka.producer import DeliveryError
from claimx_worker.model import ClaimXEvent, event_to_json, parse_event
from claimx_worker.testing.factories import DEFAULT_PROJECT_ID, make_event

Message = tuple[bytes, bytes]
"""A Kafka message to send: ``(key, value)``."""


@frozen
class OutgoingEvent:
    """An event to send: ``value`` goes to Kafka as is; ``event`` is what the worker will read."""

    event: ClaimXEvent
    value: bytes

    @property
    def key(self) -> bytes:
        """The message key: the project id (events of a project stay in order)."""
        return self.event.project_id.encode()


def read_events(text: str) -> list[OutgoingEvent]:
    """The events in ``text``: one JSON object, a JSON array of them, or one per line (JSON
    lines; blank lines skipped). Each is checked as the worker parses it and sent as written.
    Raises :class:`~claimx_worker.errors.InvalidEventError` naming the line or array item."""
    try:
        document = json.loads(text)
    except ValueError:
        items = _json_lines(text)
    else:
        listed = document if isinstance(document, list) else [document]
        items = [(f"event {n}", item, json.dumps(item)) for n, item in enumerate(listed, 1)]
    if not items:
        raise InvalidEventError("no event in the input")
    return [_outgoing(place, item, raw) for place, item, raw in items]


def example_events(
    event_type: str, *, count: int = 1, first_project: int = int(DEFAULT_PROJECT_ID)
) -> list[OutgoingEvent]:
    """``count`` sample events of ``event_type`` (what ``simulate --example`` shows), one project
    each from ``first_project`` on. Task events name an assignment that the ClaimX API simulator
    (seed 1, as ``sandbox up`` runs it) serves with template 456, in the status the type says."""
    events = [make_event(event_type, project_id=str(first_project + n)) for n in range(count)]
    return [OutgoingEvent(event, event_to_json(event)) for event in events]


def produce_messages(
    config: Mapping[str, Any], topic: str, messages: Iterable[Message], *, timeout: float = 30.0
) -> int:
    """Send ``messages`` to ``topic`` with a producer of librdkafka ``config``; wait until every
    one is acknowledged and return how many were sent. Raises
    :class:`~claimx_worker.kafka.producer.DeliveryError` for the first one refused or not
    acknowledged within ``timeout`` seconds (librdkafka's ``message.timeout.ms`` unless
    ``config`` sets it)."""
    failures: list[DeliveryError] = []

    def delivered(error: KafkaError | None, _: object) -> None:
        if error is not None:
            failures.append(DeliveryError(error, topic))

    producer = Producer(
        {"message.timeout.ms": int(timeout * 1000), **config, "enable.idempotence": True}
    )
    sent = 0
    for key, value in messages:
        producer.produce(topic, value, key=key, on_delivery=delivered)
        producer.poll(0)
        sent += 1
    producer.flush()  # returns once each message is acknowledged or timed out
    if failures:
        raise failures[0]
    return sent


def _json_lines(text: str) -> list[tuple[str, Any, str]]:
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append((f"line {number}", json.loads(line), line))
        except ValueError as exc:
            raise InvalidEventError(f"line {number}: not valid JSON: {exc}") from None
    return items


def _outgoing(place: str, item: Any, raw: str) -> OutgoingEvent:
    try:
        event = parse_event(item if isinstance(item, Mapping) else json.dumps(item))
    except InvalidEventError as exc:
        raise InvalidEventError(f"{place}: {exc}") from None
    return OutgoingEvent(event, raw.encode())
