"""Reading a dead-letter topic for a replay: with the replay's own consumer group, from its
committed position (or the topic's start) to the end seen when the replay started, so records a
replay writes back to the same topic are never read again by it (a replay never loops).

The replays built on it: :mod:`claimx_worker.actions.replay` (the action DLQ) and
:mod:`claimx_worker.kafka.event_replay` (the event DLQ).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from confluent_kafka import OFFSET_INVALID, KafkaException, Message, TopicPartition
from confluent_kafka.aio import AIOConsumer

from claimx_worker.errors import ClaimXWorkerError

_BATCH = 100
_TIMEOUT = 10.0


class ReplayError(ClaimXWorkerError):
    """The replay cannot go on (missing topic or variable, a failed read or write); what was
    replayed before is committed."""


class DeadLetterReader:
    """Batches of one DLQ topic up to the end seen at start; :meth:`commit` marks records done
    for the replay's group. Open it with :func:`open_dead_letters`."""

    def __init__(self, consumer: AIOConsumer, topic: str, ends: dict[int, int]) -> None:
        self._consumer = consumer
        self._topic = topic
        self._ends = ends

    async def batches(self, max_records: int | None = None) -> AsyncIterator[list[Message]]:
        """Record batches in offset order per partition, at most ``max_records`` in all."""
        read = 0
        consumer, topic, ends = self._consumer, self._topic, self._ends
        while ends and (max_records is None or read < max_records):
            wanted = _BATCH if max_records is None else min(_BATCH, max_records - read)
            batch = await consumer.consume(num_messages=wanted, timeout=0.5)
            for message in batch:
                if message.error() is not None:
                    raise ReplayError(f"reading {topic} failed: {message.error()}")
            messages = [m for m in batch if m.offset() < ends.get(m.partition(), -1)]
            read += len(messages)
            if messages:
                yield messages
            positions = await consumer.position([TopicPartition(topic, p) for p in ends])
            finished = [tp for tp in positions if tp.offset >= ends[tp.partition]]
            for position in finished:
                del ends[position.partition]
            if finished:
                await consumer.pause(finished)

    async def commit(self, messages: Iterable[Message]) -> None:
        """Commit the replay group's position past ``messages`` (read in offset order)."""
        offsets = next_offsets(messages)
        if offsets:
            await self._consumer.commit(offsets=offsets, asynchronous=False)


def next_offsets(messages: Iterable[Message]) -> list[TopicPartition]:
    """Per partition, the offset after the last of ``messages`` (given in offset order)."""
    ends: dict[tuple[str, int], int] = {}
    for message in messages:
        ends[(message.topic(), message.partition())] = message.offset() + 1  # type: ignore[index,operator]
    return [TopicPartition(t, p, o) for (t, p), o in ends.items()]


@contextlib.asynccontextmanager
async def open_dead_letters(
    consumer_config: Mapping[str, Any], topic: str
) -> AsyncIterator[DeadLetterReader]:
    """A :class:`DeadLetterReader` of ``topic`` (``consumer_config`` includes the replay's
    ``group.id``); raises :class:`ReplayError` when the topic does not exist."""
    config = {**consumer_config, "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    consumer = AIOConsumer(config, max_workers=2)
    try:
        yield DeadLetterReader(consumer, topic, await _assign(consumer, topic))
    finally:
        await consumer.close()


async def _assign(consumer: AIOConsumer, topic: str) -> dict[int, int]:
    """Assign every partition at its committed offset (or its start); return partition -> end
    offset for those with records left."""
    metadata = await consumer.list_topics(topic, timeout=_TIMEOUT)
    info = metadata.topics.get(topic)
    if info is None or info.error is not None or not info.partitions:
        raise ReplayError(f"topic {topic} does not exist")
    partitions = [TopicPartition(topic, p) for p in sorted(info.partitions)]
    committed = await _committed(consumer, partitions)
    assignment: list[TopicPartition] = []
    ends: dict[int, int] = {}
    for position in committed:
        low, high = await consumer.get_watermark_offsets(position, timeout=_TIMEOUT)
        start = low if position.offset == OFFSET_INVALID else max(position.offset, low)
        assignment.append(TopicPartition(topic, position.partition, start))
        if start < high:
            ends[position.partition] = high
    await consumer.assign(assignment)
    return ends


async def _committed(consumer: AIOConsumer, partitions: list[TopicPartition]) -> Any:
    """The group's committed offsets, retrying while the group coordinator gets ready."""
    deadline = time.monotonic() + _TIMEOUT
    while True:
        try:
            return await consumer.committed(partitions, timeout=_TIMEOUT)
        except KafkaException as exc:
            if time.monotonic() > deadline:  # e.g. NOT_COORDINATOR while a new broker starts
                raise ReplayError(f"cannot read the replay group's offsets: {exc}") from None
            await asyncio.sleep(0.2)
