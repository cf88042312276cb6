"""Rebalances: partitions assigned, revoked (drained, then committed) or lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from confluent_kafka import TopicPartition
from confluent_kafka.aio import AIOConsumer
from loguru import logger

from claimx_worker.kafka.commits import CommitOffsets
from claimx_worker.kafka.partitions import AssignedPartition, Assignment


class Rebalance:
    """The consumer's rebalance callbacks over the ``assignment``: a revoked partition's events
    are drained (up to ``drain_deadline`` seconds) and its offsets committed with ``commit``."""

    def __init__(
        self, assignment: Assignment, *, commit: CommitOffsets, drain_deadline: float
    ) -> None:
        self._assignment = assignment
        self._commit = commit
        self._drain_deadline = drain_deadline

    async def on_assign(self, consumer: AIOConsumer, partitions: list[TopicPartition]) -> None:
        """Partitions were assigned: track them."""
        self._assignment.add(partitions)
        logger.bind(partitions=_describe(partitions)).info("Partitions assigned")

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


def _describe(partitions: Iterable[TopicPartition]) -> str:
    return ",".join(f"{tp.topic}[{tp.partition}]" for tp in partitions)
