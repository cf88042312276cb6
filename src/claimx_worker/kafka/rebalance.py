"""Rebalances: partitions assigned (and positioned where the processor resumes), revoked
(drained, then committed) or lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    OFFSET_STORED,
    TopicPartition,
)
from confluent_kafka.aio import AIOConsumer
from loguru import logger

from claimx_worker.kafka.commits import CommitOffsets
from claimx_worker.kafka.context import StartOffsets
from claimx_worker.kafka.partitions import AssignedPartition, Assignment

_COMMITTED_TIMEOUT_SECONDS = 10.0


class Rebalance:
    """The consumer's rebalance callbacks over the ``assignment``: a revoked partition's events
    are drained (up to ``drain_deadline`` seconds) and its offsets committed with ``commit``.

    With ``start_offsets`` (the processor's hook), assigned partitions are assigned by the
    callback itself, each at the greater of its committed offset and the hook's offset;
    ``incremental`` says whether the consumer's assignments are incremental (cooperative)."""

    def __init__(
        self,
        assignment: Assignment,
        *,
        commit: CommitOffsets,
        drain_deadline: float,
        start_offsets: StartOffsets | None = None,
        incremental: bool = False,
    ) -> None:
        self._assignment = assignment
        self._commit = commit
        self._drain_deadline = drain_deadline
        self._start_offsets = start_offsets
        self._incremental = incremental

    async def on_assign(self, consumer: AIOConsumer, partitions: list[TopicPartition]) -> None:
        """Partitions were assigned: track them, and position them where the processor resumes."""
        self._assignment.add(partitions)
        log = logger.bind(partitions=_describe(partitions))
        if self._start_offsets is not None and partitions:
            starts = await _starts(consumer, partitions, self._start_offsets)
            if starts is not None:
                if self._incremental:
                    await consumer.incremental_assign(starts)
                else:
                    await consumer.assign(starts)
                log = log.bind(offsets=_describe(starts, offsets=True))
        log.info("Partitions assigned")

    async def on_revoke(self, consumer: AIOConsumer, partitions: list[TopicPartition]) -> None:
        """Partitions are being handed over: drain their events, then commit."""
        parts = self._assignment.take(partitions)
        if not parts:
            return
        await drain(parts, self._drain_deadline)
        await self._commit(consumer, parts)
        logger.bind(partitions=_describe(partitions)).info("Partitions revoked")

    async def on_lost(self, consumer: AIOConsumer, partitions: list[TopicPartition]) -> None:
        """Partitions were lost: another member owns them now, so nothing more starts."""
        for part in self._assignment.take(partitions):
            part.revoked = True
        logger.bind(partitions=_describe(partitions)).warning("Partitions lost")


async def _starts(
    consumer: AIOConsumer, partitions: list[TopicPartition], start_offsets: StartOffsets
) -> list[TopicPartition] | None:
    """Each partition at the greater of its committed offset and the processor's; ``None``
    (read from the committed offsets) when either cannot be had."""
    try:
        wanted = await start_offsets([(tp.topic, tp.partition) for tp in partitions])
        committed = await consumer.committed(partitions, timeout=_COMMITTED_TIMEOUT_SECONDS)
    except Exception as exc:
        logger.bind(error=str(exc)).warning(
            "Cannot choose where to resume; reading from the committed offsets"
        )
        return None
    starts = []
    for tp in committed:
        offset = wanted.get((tp.topic, tp.partition))
        start = offset if offset is not None and offset > tp.offset else tp.offset
        starts.append(TopicPartition(tp.topic, tp.partition, start))
    return starts


async def drain(parts: Sequence[AssignedPartition], deadline: float) -> None:
    """Wait up to ``deadline`` seconds until the in-flight events of ``parts`` are done (those
    queued behind their key included); then mark them revoked so nothing more starts."""
    loop = asyncio.get_running_loop()
    waits = []
    for part in parts:
        if part.running:
            part.drained = loop.create_future()
            waits.append(part.drained)
    if waits:
        _, pending = await asyncio.wait(waits, timeout=deadline)
        if pending:
            left = sum(part.running for part in parts)
            logger.bind(deadline_seconds=deadline, events=left).warning(
                "Events still in flight at the drain deadline; they will be redelivered"
            )
    for part in parts:
        part.revoked = True


_OFFSET_NAMES = {
    OFFSET_BEGINNING: "beginning",
    OFFSET_END: "end",
    OFFSET_STORED: "committed",
    OFFSET_INVALID: "auto.offset.reset",  # nothing committed nor recorded: the reset policy
}
"""librdkafka's logical offsets, as the log line names them."""


def _describe(partitions: Iterable[TopicPartition], *, offsets: bool = False) -> str:
    return ",".join(
        f"{tp.topic}[{tp.partition}]"
        + (f"@{_OFFSET_NAMES.get(tp.offset, tp.offset)}" if offsets else "")
        for tp in partitions
    )
