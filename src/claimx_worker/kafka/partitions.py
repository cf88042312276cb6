"""The partitions assigned to this worker: the bookkeeping of each, and which are paused."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Mapping

from confluent_kafka import Message, TopicPartition

from claimx_worker.kafka.offsets import PartitionOffsets
from claimx_worker.kafka.routing import RetryState


class AssignedPartition:
    """Bookkeeping for one assigned partition (a :class:`ProcessContext`'s ``slot``)."""

    __slots__ = (
        "delay",
        "drained",
        "held",
        "offsets",
        "partition",
        "revoked",
        "running",
        "timer",
        "topic",
    )

    def __init__(self, topic: str, partition: int, delay: float | None) -> None:
        self.topic = topic
        self.partition = partition
        self.delay = delay
        """Retry delay in seconds for a retry topic, ``None`` for the input topic."""
        self.offsets = PartitionOffsets()
        self.running = 0
        """Events dispatched (started, or queued behind their key) and not yet done."""
        self.revoked = False
        """Drained or lost: nothing more of it starts, and its failures are not routed."""
        self.held: deque[tuple[Message, RetryState]] = deque()
        """Retry records fetched before they are due, in offset order."""
        self.timer: asyncio.TimerHandle | None = None
        """Releases the head of :attr:`held` when it is due."""
        self.drained: asyncio.Future[None] | None = None
        """Set while a drain waits for :attr:`running` to reach zero."""


class Assignment:
    """The assigned partitions by ``(topic, partition)``, and which of them are paused.

    ``retry_delays`` maps each retry topic to its delay in seconds; the partitions of any other
    topic have none.
    """

    def __init__(self, retry_delays: Mapping[str, float]) -> None:
        self._retry_delays = retry_delays
        self.partitions: dict[tuple[str, int], AssignedPartition] = {}
        self.paused: set[tuple[str, int]] = set()

    def add(self, partitions: Iterable[TopicPartition]) -> None:
        """Start the bookkeeping of newly assigned partitions."""
        for tp in partitions:
            self.partitions[(tp.topic, tp.partition)] = AssignedPartition(
                tp.topic, tp.partition, self._retry_delays.get(tp.topic)
            )

    def take(self, partitions: Iterable[TopicPartition]) -> list[AssignedPartition]:
        """Remove partitions: nothing more is fetched or released from them (held retry records
        are dropped: they were never started and will be fetched again)."""
        parts = []
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self.paused.discard(key)
            part = self.partitions.pop(key, None)
            if part is not None:
                part.held.clear()
                if part.timer is not None:
                    part.timer.cancel()
                    part.timer = None
                parts.append(part)
        return parts

    def clear(self) -> list[AssignedPartition]:
        """Remove every partition (at shutdown) and return them."""
        parts = list(self.partitions.values())
        self.partitions.clear()
        self.paused.clear()
        return parts

    def uncommitted(self) -> int:
        """Fetched events at or above the commit offset of their partition."""
        return sum(part.offsets.uncommittable for part in list(self.partitions.values()))
