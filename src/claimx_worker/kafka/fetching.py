"""The fetch loop and its flow control: batches fetched while the previous one is dispatched,
fetching stopped under backpressure, partitions paused and resumed.

At ``max_in_flight`` the loop stops fetching until in-flight events drop to the low-water mark; if
no event finishes for half a second, or the wait passes two seconds, every assigned partition is
paused (so that ``consume()`` can go on serving rebalances and keeping the worker in its group)
and resumed at the low-water mark. Pausing is not done at once, nor while events keep finishing,
because librdkafka drops a paused partition's prefetched records, and refetching them costs more
than it saves: a worker saturated by a backlog waits about half a second at every bound (1,000
events at 2,000 a second), and pausing each time cost the pipeline benchmark about a tenth of
its events per CPU-second. A retry-topic partition whose head is not yet due
(``claimx-due-ms``) is paused until it is; records fetched behind the head wait with it, in
order (see :mod:`.intake`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from attrs import define, field
from confluent_kafka import KafkaException, Message, TopicPartition
from confluent_kafka.aio import AIOConsumer
from loguru import logger

from claimx_worker.kafka.commits import CommitOffsets
from claimx_worker.kafka.in_flight import InFlight
from claimx_worker.kafka.partitions import Assignment

_STALL_SECONDS = 0.5
"""At ``max_in_flight`` with no event finishing this long: the worker stalled, pause."""
_MAX_WAIT_SECONDS = 2.0
"""At ``max_in_flight`` this long, events finishing or not: pause, to serve the consumer."""


@define
class Fetcher:
    """Fetches batches of ``batch_size`` records for the ``assignment`` and hands them to
    ``accept``, as ``in_flight`` leaves room; commits every ``commit_interval`` seconds.

    ``fetch_timeout`` bounds the wait for a first record when none is ready.
    """

    _assignment: Assignment
    _in_flight: InFlight
    _accept: Callable[[list[Message]], None] = field(kw_only=True)
    _commit: CommitOffsets = field(kw_only=True)
    _batch_size: int = field(kw_only=True)
    _fetch_timeout: float = field(kw_only=True)
    _commit_interval: float = field(kw_only=True)
    _stopping: bool = field(default=False, init=False)

    def stop(self) -> None:
        """Make :meth:`run` return after the batch in hand."""
        self._stopping = True
        self._in_flight.room.set()

    async def run(self, consumer: AIOConsumer) -> None:
        """Fetch and dispatch until stopped; the next batch is fetched while one is dispatched."""
        loop = asyncio.get_running_loop()
        next_commit = loop.time() + self._commit_interval
        in_flight = self._in_flight
        fetching: asyncio.Future[list[Message]] | None = None
        try:
            while not self._stopping:
                if fetching is None:
                    messages = await self._fetch_or_wait(consumer)
                else:
                    messages = await fetching
                    fetching = None
                if not in_flight.backpressure and not self._stopping:
                    await self._apply_pauses(consumer)
                    fetching = asyncio.ensure_future(self._fetch(consumer))
                self._accept(messages)
                if loop.time() >= next_commit:
                    next_commit = loop.time() + self._commit_interval
                    await self._commit(consumer, list(self._assignment.partitions.values()))
        finally:
            if fetching is not None:  # not dispatched: redelivered after the final commit
                await asyncio.gather(fetching, return_exceptions=True)

    async def _fetch_or_wait(self, consumer: AIOConsumer) -> list[Message]:
        """A batch when not under backpressure; otherwise wait for room, and when the worker
        stalls (see :meth:`_room`), pause every partition and serve the consumer without
        fetching."""
        in_flight = self._in_flight
        if in_flight.backpressure:
            if await self._room():
                return []
            in_flight.stalled = True
            await self._apply_pauses(consumer)
            return list(await consumer.consume(self._batch_size, 0))  # serves rebalances
        await self._apply_pauses(consumer)
        return await self._fetch(consumer)

    async def _room(self) -> bool:
        """Wait for the backpressure to end: True when it did; False when the worker stalled (no
        event finished for :data:`_STALL_SECONDS`), when the wait passed
        :data:`_MAX_WAIT_SECONDS`, or, once paused, every :data:`_STALL_SECONDS` (the consumer
        must be served now and then)."""
        in_flight = self._in_flight
        loop = asyncio.get_running_loop()
        give_up = loop.time() + _MAX_WAIT_SECONDS
        while True:
            count = in_flight.count
            try:
                await asyncio.wait_for(in_flight.room.wait(), _STALL_SECONDS)
                return True
            except TimeoutError:
                if not in_flight.backpressure:  # room was freed while the wait was being cancelled
                    return True
            if in_flight.stalled or in_flight.count >= count or loop.time() >= give_up:
                return False

    async def _fetch(self, consumer: AIOConsumer) -> list[Message]:
        """A batch: what is ready now, else wait up to the fetch timeout for a first message."""
        messages: list[Message] = await consumer.consume(self._batch_size, 0)
        if messages or self._batch_size == 1:
            return messages
        messages = await consumer.consume(1, self._fetch_timeout)
        if messages:
            messages += await consumer.consume(self._batch_size - 1, 0)
        return messages

    async def _apply_pauses(self, consumer: AIOConsumer) -> None:
        assignment = self._assignment
        if self._in_flight.stalled:
            wanted = set(assignment.partitions)
        else:
            wanted = {key for key, part in assignment.partitions.items() if part.held}
        if wanted == assignment.paused:
            return
        pause, resume = wanted - assignment.paused, assignment.paused - wanted
        try:
            if pause:
                await consumer.pause([TopicPartition(t, p) for t, p in pause])
            if resume:
                resumed = [TopicPartition(t, p) for t, p in resume]
                await consumer.resume(resumed)
                await _restart_fetch(consumer, resumed)
        except KafkaException as exc:
            logger.bind(error=str(exc.args[0])).warning("Could not pause or resume partitions")
            return
        assignment.paused = wanted


async def _restart_fetch(consumer: AIOConsumer, partitions: list[TopicPartition]) -> None:
    """Seek resumed partitions to their own position, so fetching restarts now.

    When every partition a broker leads is paused, librdkafka's broker thread idles and only
    notices ``resume()`` on its next one-second wakeup (measured: 0.93 s per resume). A seek
    wakes it at once. The position is the next offset the application has not seen, so the
    seek changes nothing else.
    """
    for tp in await consumer.position(partitions):
        if tp.offset >= 0:
            await consumer.seek(tp)
