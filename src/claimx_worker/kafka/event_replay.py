"""Replaying the event DLQ: dead-lettered events back onto the input topic, once the cause (a bad
API token, an API outage) is fixed.

A DLQ record holds the original event (value and key byte for byte, the original headers) plus
the runtime's ``claimx-*`` routing headers (:mod:`.routing`). Every part of it is untrusted:

- the destination is always the configured input topic, never a topic a header names;
- the routing headers are dropped, so the event starts again as a fresh one (attempt 1);
- a record whose value was truncated, is missing or is not a valid ClaimX event is not
  replayable (it would only be dead-lettered again), and is reported and committed;
- header and value text reaches the output only JSON-encoded and cut to a bounded length.

Records are selected by error category (``claimx-error-category``), event type (read from the
event) and the time they were dead-lettered (the DLQ record's timestamp). The replay's consumer
group commits every record it read, replayed, skipped by the selection or not replayable, once
the replayed ones are acknowledged: a second replay with the same group does not redo them (use
another group to replay records a selection skipped). A dry run lists and neither produces nor
commits.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs
from confluent_kafka import Message
from loguru import logger

from claimx_worker.errors import InvalidEventError
from claimx_worker.kafka.dead_letters import ReplayError, open_dead_letters
from claimx_worker.kafka.producer import DeliveryProducer
from claimx_worker.kafka.routing import (
    ERROR,
    ERROR_CATEGORY,
    ROUTING_HEADERS,
    VALUE_TRUNCATED,
    HeaderList,
    header_text,
    record_headers,
)
from claimx_worker.model.event import ClaimXEvent, parse_event

_SHOWN_CHARS = 200
"""Header text (categories, errors) is cut to this many characters in the output."""

Echo = Callable[[str], None]


@attrs.frozen(kw_only=True)
class EventSelection:
    """Which dead-lettered events to replay; an empty set or ``None`` selects all."""

    categories: frozenset[str] = frozenset()
    """Error categories (``auth``, ``transient``, ``permanent``, ``invalid_event``)."""
    event_types: frozenset[str] = frozenset()
    since: datetime | None = None
    """Dead-lettered at or after this time (the DLQ record's timestamp)."""
    until: datetime | None = None
    """Dead-lettered before this time."""

    def record_refusal(self, category: str | None, failed_at: datetime | None) -> str:
        """Why a record is not selected by what its headers and timestamp say (checked before
        its event is read), or ``""`` when it is."""
        if self.categories and category not in self.categories:
            return "category not selected"
        if (self.since is not None or self.until is not None) and failed_at is None:
            return "the record has no timestamp"
        if self.since is not None and failed_at is not None and failed_at < self.since:
            return "dead-lettered before --since"
        if self.until is not None and failed_at is not None and failed_at >= self.until:
            return "dead-lettered at or after --until"
        return ""

    def event_refusal(self, event_type: str) -> str:
        """Why a record's event is not selected, or ``""`` when it is."""
        if self.event_types and event_type not in self.event_types:
            return "event type not selected"
        return ""


@attrs.define
class EventReplaySummary:
    """What an event replay did."""

    records: int = 0
    replayed: int = 0
    skipped: int = 0
    """Not selected (category, event type or time)."""
    unreplayable: int = 0


async def replay_events(
    consumer_config: Mapping[str, Any],
    *,
    topic: str,
    input_topic: str,
    producer: DeliveryProducer | None,
    selection: EventSelection,
    max_records: int | None = None,
    echo: Echo,
) -> EventReplaySummary:
    """Put the selected events of the DLQ ``topic`` back onto ``input_topic`` through
    ``producer`` (``None``: a dry run); ``consumer_config`` includes the replay's ``group.id``.
    ``echo`` gets one JSON line per record. Raises :class:`ReplayError` when the topic does not
    exist or a replayed event is not acknowledged (the batch it was in is then not committed)."""
    if topic == input_topic:
        raise ReplayError(f"the DLQ topic and the input topic are both {topic}")
    summary = EventReplaySummary()
    async with open_dead_letters(consumer_config, topic) as reader:
        async for messages in reader.batches(max_records):
            sends = [
                _replay_one(m, input_topic, producer, selection, summary, echo) for m in messages
            ]
            results = await asyncio.gather(*filter(None, sends), return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:
                raise ReplayError(f"replaying to {input_topic} failed: {failed[0]}")
            if producer is not None:
                await reader.commit(messages)
    return summary


def _replay_one(
    message: Message,
    input_topic: str,
    producer: DeliveryProducer | None,
    selection: EventSelection,
    summary: EventReplaySummary,
    echo: Echo,
) -> asyncio.Future[None] | None:
    """Select, check and (unless a dry run) send one record; the acknowledgement's future."""
    summary.records += 1
    headers = record_headers(message)
    category = _shown(header_text(headers, ERROR_CATEGORY))
    line: dict[str, Any] = {
        "partition": message.partition(),
        "offset": message.offset(),
        "category": category,
        "error": _shown(header_text(headers, ERROR)),
    }
    failed_at = _timestamp(message)
    line["dead_lettered_at"] = None if failed_at is None else failed_at.isoformat()
    value = message.value()
    try:
        event: ClaimXEvent | None = _event_of(value, headers)
        problem = ""
    except InvalidEventError as exc:
        event, problem = None, str(exc)
    if event is not None:
        line |= {"event_id": _shown(event.event_id), "event_type": _shown(event.event_type)}
    refusal = selection.record_refusal(category, failed_at)
    if not refusal and event is not None:
        refusal = selection.event_refusal(event.event_type)
    if refusal:  # a record the selection leaves out is not judged
        summary.skipped += 1
        echo(json.dumps({**line, "skipped": refusal}))
        return None
    if event is None:
        summary.unreplayable += 1
        echo(json.dumps({**line, "unreplayable": _shown(problem)}))
        return None
    summary.replayed += 1
    if producer is None:
        echo(json.dumps({**line, "replayable": True}))
        return None
    kept = [(name, data) for name, data in headers if name not in ROUTING_HEADERS]
    future = producer.send(input_topic, value, message.key(), kept)
    echo(json.dumps({**line, "replayed_to": input_topic}))
    logger.bind(event_id=event.event_id, category=category, topic=input_topic).info(
        "Dead-lettered event replayed"
    )
    return future


def _event_of(value: bytes | None, headers: HeaderList) -> ClaimXEvent:
    """The event a DLQ record holds; :class:`InvalidEventError` when it cannot be replayed."""
    if value is None:
        raise InvalidEventError("the record has no value")
    if header_text(headers, VALUE_TRUNCATED) is not None:
        raise InvalidEventError("the event was truncated when it was dead-lettered")
    return parse_event(value)


def _timestamp(message: Message) -> datetime | None:
    kind, stamp = message.timestamp()
    return datetime.fromtimestamp(stamp / 1000, UTC) if kind and stamp >= 0 else None


def _shown(text: str | None) -> str | None:
    return None if text is None else text[:_SHOWN_CHARS]
