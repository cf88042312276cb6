"""Offset commits: per partition, one past the highest offset below which every event is done
(see :mod:`claimx_worker.kafka.offsets`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

from attrs import frozen
from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.aio import AIOConsumer
from loguru import logger

from claimx_worker.kafka.metrics import RuntimeMetrics
from claimx_worker.kafka.partitions import AssignedPartition


@frozen
class CommittedOffset:
    """An offset committed for a partition: every event below ``offset`` is done."""

    topic: str
    partition: int
    offset: int


OnCommit = Callable[[Sequence[CommittedOffset]], None]
CommitOffsets = Callable[[AIOConsumer, Sequence[AssignedPartition]], Awaitable[None]]
"""Commits the offsets of some partitions (:meth:`OffsetCommitter.commit`)."""


class OffsetCommitter:
    """Commits the partitions' offsets that moved; ``on_commit`` (optional) gets the offsets
    committed, after every successful commit."""

    def __init__(self, metrics: RuntimeMetrics, on_commit: OnCommit | None) -> None:
        self._metrics = metrics
        self._on_commit = on_commit

    async def commit(self, consumer: AIOConsumer, parts: Sequence[AssignedPartition]) -> None:
        """Commit the offsets of ``parts`` that moved since their last commit; a failed commit
        is logged and tried again on the next one."""
        wanted = {
            (part.topic, part.partition): part for part in parts if part.offsets.needs_commit()
        }
        if not wanted:
            return
        offsets = [
            TopicPartition(part.topic, part.partition, cast(int, part.offsets.commit_offset))
            for part in wanted.values()
        ]
        try:
            results = await consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            logger.bind(error=str(exc.args[0])).warning("Offset commit failed; will retry")
            return
        committed = []
        for tp in results or ():
            if tp.error is not None:
                logger.bind(topic=tp.topic, partition=tp.partition, error=str(tp.error)).warning(
                    "Offset commit failed for a partition"
                )
                continue
            wanted[(tp.topic, tp.partition)].offsets.committed = tp.offset
            committed.append(CommittedOffset(tp.topic, tp.partition, tp.offset))
        self._metrics.last_commit_timestamp = time.time()
        if self._on_commit is not None and committed:
            self._on_commit(committed)
