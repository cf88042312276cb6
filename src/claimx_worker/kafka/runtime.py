"""The Kafka runtime: consume, dispatch by key, track offsets, route failures, drain and commit.

One asyncio loop drives everything. The consumer is ``confluent_kafka.aio.AIOConsumer`` fetching
in batches (``consume(N)``); only the fetch loop (and the rebalance callbacks it triggers) calls
it. Output messages go through :class:`~claimx_worker.kafka.producer.DeliveryProducer`.

Flow control: events fetched and not yet done are *in flight*. At ``max_in_flight`` the worker
stops fetching until in-flight events drop to the low-water mark; if that takes longer than half
a second, every assigned partition is paused (so that ``consume()`` can go on serving rebalances
and keeping the worker in its group) and resumed at the low-water mark. Pausing is not done at
once because librdkafka drops a paused partition's prefetched records, and refetching them after
every short burst costs more than it saves. A retry-topic
partition whose head is not yet due (``claimx-due-ms``) is paused until it is; records fetched
behind the head wait with it, in order.

Offsets: per partition, the commit offset is one past the highest offset below which every event
is done (see :mod:`claimx_worker.kafka.offsets`); it is committed every
``commit_interval_seconds``, on revoke (after draining up to ``drain_deadline_seconds``) and at
shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, Generic, TypeVar, cast

import attrs
from attrs import frozen
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.aio import AIOConsumer
from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker.errors import InvalidEventError
from claimx_worker.kafka.context import FailedEvent, ProcessContext, Processor
from claimx_worker.kafka.dispatch import KeyedDispatcher, Rest, resume
from claimx_worker.kafka.metrics import RuntimeMetrics
from claimx_worker.kafka.offsets import PartitionOffsets
from claimx_worker.kafka.producer import DeliveryError, DeliveryProducer
from claimx_worker.kafka.routing import (
    TRUNCATED_VALUE_BYTES,
    Origin,
    RetryState,
    RetryTopicSchedule,
    Route,
    RoutedFailure,
    classify_for_routing,
    read_retry_state,
    truncated,
)
from claimx_worker.kafka.topics import ensure_topics
from claimx_worker.observability.redaction import Redactor
from claimx_worker.settings.worker import KafkaSettings

T = TypeVar("T")

_CONSUMER_THREADS = 4  # a rebalance callback's re-entrant calls need a second thread
_STALL_SECONDS = 0.5  # at max_in_flight this long: pause the partitions
_WRITE_BACKOFF_SECONDS = (0.5, 30.0)


class KafkaRuntimeError(Exception):
    """The runtime stopped on a fatal Kafka error (e.g. the idempotent producer failed)."""


@frozen
class CommittedOffset:
    """An offset committed for a partition: every event below ``offset`` is done."""

    topic: str
    partition: int
    offset: int


LIBRDKAFKA_LOGGER = logging.getLogger("librdkafka")
"""librdkafka's own log lines go through :mod:`logging` into the worker's log format."""


def consumer_config(settings: KafkaSettings) -> dict[str, Any]:
    """librdkafka consumer settings: ``common`` + ``consumer`` properties, with the runtime's
    fixed settings (group, manual offset management) on top."""
    return {
        "auto.offset.reset": "earliest",
        **settings.common,
        **settings.consumer,
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": settings.worker.consumer_group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "logger": LIBRDKAFKA_LOGGER,
    }


def producer_config(settings: KafkaSettings) -> dict[str, Any]:
    """librdkafka producer settings: ``common`` + ``producer`` properties, idempotence forced."""
    return {
        "linger.ms": 5,
        **settings.common,
        **settings.producer,
        "bootstrap.servers": settings.bootstrap_servers,
        "enable.idempotence": True,
        "logger": LIBRDKAFKA_LOGGER,
    }


def admin_config(settings: KafkaSettings) -> dict[str, Any]:
    """librdkafka settings for the topic check: ``common`` properties and the servers."""
    return {
        **settings.common,
        "bootstrap.servers": settings.bootstrap_servers,
        "logger": LIBRDKAFKA_LOGGER,
    }


class _Partition:
    """Bookkeeping for one assigned partition."""

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
        self.held: deque[tuple[Message, RetryState]] = deque()
        """Retry records fetched before they are due, in offset order."""
        self.timer: asyncio.TimerHandle | None = None
        self.drained: asyncio.Future[None] | None = None


class KafkaRuntime(Generic[T]):
    """Consumes the input and retry topics and runs ``processor`` per event, at least once.

    ``on_commit`` (optional) is called after every successful commit with the offsets committed.
    ``redactor`` (optional) masks secrets in the error messages of DLQ and retry records.
    ``startup_timeout`` bounds the topic check at start (seconds). Call :meth:`run` once;
    :meth:`stop` (e.g. from a signal handler) makes it drain and return.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        processor: Processor[T],
        *,
        registry: CollectorRegistry,
        on_commit: Callable[[Sequence[CommittedOffset]], None] | None = None,
        redactor: Redactor | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        worker = settings.worker
        processing = worker.processing
        self._settings = settings
        self._processor = processor
        self._on_commit = on_commit
        self._redactor = Redactor() if redactor is None else redactor
        self._startup_timeout = startup_timeout
        self._max_in_flight = processing.max_in_flight
        self._resume_at = processing.resume_at
        self._batch_size = processing.batch_size
        self._fetch_timeout = processing.fetch_timeout_seconds
        self._drain_deadline = processing.drain_deadline_seconds
        self._commit_interval = processing.commit_interval_seconds
        retry_topics = worker.retry_topics()
        self._retry_delays = retry_topics
        self._retry_schedule = RetryTopicSchedule(
            {
                topic: (label, seconds)
                for (topic, seconds), label in zip(
                    retry_topics.items(), processing.retry_delays, strict=True
                )
            },
            worker.topics.dlq,
        )
        self.input_topics = [worker.topics.pending, *retry_topics]
        """Topics consumed: the input topic and the retry topics."""
        topics = worker.topics
        own = [
            *self.input_topics,
            topics.enriched,
            topics.downloads,
            topics.dlq,
            topics.actions_dlq,
        ]
        self.topics = [*own, *sorted(set(processor.output_topics) - set(own))]
        """Every topic the worker consumes or produces (checked at start)."""
        self._partitions: dict[tuple[str, int], _Partition] = {}
        self._paused: set[tuple[str, int]] = set()
        self._in_flight = 0
        self._backpressure = False
        """At ``max_in_flight``: no fetching until the low-water mark."""
        self._stalled = False
        """Backpressure lasted :data:`_STALL_SECONDS`: every partition is paused."""
        self._room: asyncio.Event | None = None
        self._stopping = False
        self._fatal: str | None = None
        self._dispatcher: KeyedDispatcher[ProcessContext] = KeyedDispatcher(self._start_event)
        self._routing: set[asyncio.Task[None]] = set()
        self.producer = DeliveryProducer(producer_config(settings), on_fatal=self._fatal_error)
        """The runtime's producer; :class:`ProcessContext` produces through it."""
        self.metrics = RuntimeMetrics(
            registry,
            in_flight=lambda: self._in_flight,
            uncommitted=self._uncommitted,
            assigned=lambda: len(self._partitions),
            paused=lambda: len(self._paused),
        )

    # --- lifecycle ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop fetching; :meth:`run` drains, commits, calls ``on_stop``, flushes and returns."""
        self._stopping = True
        if self._room is not None:
            self._room.set()

    async def run(self) -> None:
        """Run until :meth:`stop`. Raises :class:`~claimx_worker.kafka.MissingTopicsError` when
        topics are missing (and creation is off), :class:`KafkaRuntimeError` when the cluster
        cannot be reached at start or on a fatal error."""
        settings = self._settings
        self._room = asyncio.Event()
        try:
            created = await asyncio.to_thread(
                ensure_topics,
                admin_config(settings),
                self.topics,
                create=settings.create_topics,
                partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                timeout=self._startup_timeout,
            )
        except KafkaException as exc:
            raise _client_error(exc, settings) from None
        if created:
            logger.bind(topics=",".join(created)).info("Created missing Kafka topics")
        try:
            consumer = AIOConsumer(
                {**consumer_config(settings), "error_cb": self._consumer_error},
                max_workers=_CONSUMER_THREADS,
            )
            await self.producer.start()
        except KafkaException as exc:
            raise _client_error(exc, settings) from None
        try:
            await consumer.subscribe(
                self.input_topics,
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            logger.bind(
                group=settings.worker.consumer_group, topics=",".join(self.input_topics)
            ).info("Kafka runtime started")
            await self._fetch_loop(consumer)
        finally:
            await self._shutdown(consumer)
        if self._fatal is not None:
            raise KafkaRuntimeError(self._fatal)

    async def _fetch_loop(self, consumer: AIOConsumer) -> None:
        """Fetch and dispatch until stopped; the next batch is fetched while one is dispatched."""
        loop = asyncio.get_running_loop()
        next_commit = loop.time() + self._commit_interval
        assert self._room is not None
        fetching: asyncio.Future[list[Message]] | None = None
        try:
            while not self._stopping:
                if fetching is None:
                    messages = await self._fetch_or_wait(consumer)
                else:
                    messages = await fetching
                    fetching = None
                if not self._backpressure and not self._stopping:
                    await self._apply_pauses(consumer)
                    fetching = asyncio.ensure_future(self._fetch(consumer))
                self._accept(messages)
                if loop.time() >= next_commit:
                    next_commit = loop.time() + self._commit_interval
                    await self._commit(consumer, list(self._partitions.values()))
        finally:
            if fetching is not None:  # not dispatched: redelivered after the final commit
                await asyncio.gather(fetching, return_exceptions=True)

    async def _fetch_or_wait(self, consumer: AIOConsumer) -> list[Message]:
        """A batch when not under backpressure; otherwise wait for room, and when that takes
        :data:`_STALL_SECONDS`, pause every partition and serve the consumer without fetching."""
        assert self._room is not None
        if self._backpressure:
            try:
                await asyncio.wait_for(self._room.wait(), _STALL_SECONDS)
            except TimeoutError:
                if not self._backpressure:  # room was freed while the wait was being cancelled
                    return []
                self._stalled = True
                await self._apply_pauses(consumer)
                return list(await consumer.consume(self._batch_size, 0))  # serves rebalances
            return []
        await self._apply_pauses(consumer)
        return await self._fetch(consumer)

    async def _fetch(self, consumer: AIOConsumer) -> list[Message]:
        """A batch: what is ready now, else wait up to the fetch timeout for a first message."""
        messages: list[Message] = await consumer.consume(self._batch_size, 0)
        if messages or self._batch_size == 1:
            return messages
        messages = await consumer.consume(1, self._fetch_timeout)
        if messages:
            messages += await consumer.consume(self._batch_size - 1, 0)
        return messages

    async def _shutdown(self, consumer: AIOConsumer) -> None:
        self._stopping = True
        parts = list(self._partitions.values())
        self._partitions.clear()
        self._paused.clear()
        await self._drain(parts)
        await self._commit(consumer, parts)
        await self._dispatcher.cancel()
        for task in list(self._routing):
            task.cancel()
        await asyncio.gather(*self._routing, return_exceptions=True)
        if self._processor.on_stop is not None:
            try:
                await self._processor.on_stop()
            except Exception:
                logger.exception("on_stop failed")
        try:
            async with asyncio.timeout(max(self._drain_deadline, 1.0)):
                await self.producer.flush()
        except TimeoutError:
            logger.bind(messages=len(self.producer)).warning("Producer flush timed out")
        await consumer.close()
        await self.producer.close()
        logger.info("Kafka runtime stopped")

    def _fatal_error(self, reason: str) -> None:
        if self._fatal is None:
            self._fatal = reason
        self.stop()

    async def _consumer_error(self, error: KafkaError) -> None:
        log = logger.bind(code=error.name(), fatal=error.fatal())
        if error.fatal():
            log.error("Kafka consumer fatal error: {}", error.str())
            self._fatal_error(f"consumer: {error.str()}")
        else:
            log.warning("Kafka consumer error: {}", error.str())

    # --- rebalance ----------------------------------------------------------------------------

    async def _on_assign(self, consumer: AIOConsumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self._partitions[key] = _Partition(
                tp.topic, tp.partition, self._retry_delays.get(tp.topic)
            )
        logger.bind(partitions=_describe(partitions)).info("Partitions assigned")

    async def _on_revoke(self, consumer: AIOConsumer, partitions: list[TopicPartition]) -> None:
        parts = self._take(partitions)
        if not parts:
            return
        await self._drain(parts)
        await self._commit(consumer, parts)
        logger.bind(partitions=_describe(partitions)).info("Partitions revoked")

    async def _on_lost(self, consumer: AIOConsumer, partitions: list[TopicPartition]) -> None:
        for part in self._take(partitions):
            part.revoked = True  # another member owns them now: do not start more
        logger.bind(partitions=_describe(partitions)).warning("Partitions lost")

    def _take(self, partitions: Iterable[TopicPartition]) -> list[_Partition]:
        """Remove partitions from the assignment: nothing more is fetched or released from them
        (held retry records are dropped: they were never started and will be fetched again)."""
        parts = []
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self._paused.discard(key)
            part = self._partitions.pop(key, None)
            if part is not None:
                part.held.clear()
                if part.timer is not None:
                    part.timer.cancel()
                    part.timer = None
                parts.append(part)
        return parts

    async def _drain(self, parts: Sequence[_Partition]) -> None:
        """Wait up to the drain deadline until the in-flight events of ``parts`` are done (those
        queued behind their key included); then mark them revoked so nothing more starts."""
        loop = asyncio.get_running_loop()
        waits = []
        for part in parts:
            if part.running:
                part.drained = loop.create_future()
                waits.append(part.drained)
        if waits:
            _, pending = await asyncio.wait(waits, timeout=self._drain_deadline)
            if pending:
                left = sum(part.running for part in parts)
                logger.bind(deadline_seconds=self._drain_deadline, events=left).warning(
                    "Events still in flight at the drain deadline; they will be redelivered"
                )
        for part in parts:
            part.revoked = True

    # --- offsets and flow control -------------------------------------------------------------

    async def _commit(self, consumer: AIOConsumer, parts: Sequence[_Partition]) -> None:
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
        self.metrics.last_commit_timestamp = time.time()
        if self._on_commit is not None and committed:
            self._on_commit(committed)

    async def _apply_pauses(self, consumer: AIOConsumer) -> None:
        if self._stalled:
            wanted = set(self._partitions)
        else:
            wanted = {key for key, part in self._partitions.items() if part.held}
        if wanted == self._paused:
            return
        pause, resume = wanted - self._paused, self._paused - wanted
        try:
            if pause:
                await consumer.pause([TopicPartition(t, p) for t, p in pause])
            if resume:
                resumed = [TopicPartition(t, p) for t, p in resume]
                await consumer.resume(resumed)
                await self._restart_fetch(consumer, resumed)
        except KafkaException as exc:
            logger.bind(error=str(exc.args[0])).warning("Could not pause or resume partitions")
            return
        self._paused = wanted

    @staticmethod
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

    def _uncommitted(self) -> int:
        return sum(part.offsets.uncommittable for part in list(self._partitions.values()))

    # --- dispatch -----------------------------------------------------------------------------

    def _accept(self, messages: list[Message]) -> None:
        """Track and dispatch a fetched batch; hold retry records that are not due yet."""
        now_ms = time.time() * 1000
        partitions = self._partitions
        consumed = self.metrics.consumed
        for message in messages:
            error = message.error()
            if error is not None:
                self._consume_error(error)
                continue
            topic: str = message.topic()  # type: ignore[assignment]
            part = partitions.get((topic, message.partition()))  # type: ignore[arg-type]
            if part is None:  # revoked while the batch was on its way
                continue
            offset: int = message.offset()  # type: ignore[assignment]
            consumed[topic] += 1
            part.offsets.add(offset)
            if part.delay is None:
                self._dispatch(part, message, offset, 1, None)
                continue
            state = read_retry_state(message.headers(), topic, part.partition, offset)
            if part.held or (state.due_ms is not None and state.due_ms > now_ms):
                part.held.append((message, state))
                self._schedule_release(part)
            else:
                self._dispatch(part, message, offset, state.attempts + 1, state.origin)

    def _consume_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._fatal_error(f"consumer: {error.str()}")
        else:
            logger.bind(code=error.name()).warning("Kafka consume error: {}", error.str())

    def _dispatch(
        self, part: _Partition, message: Message, offset: int, attempt: int, origin: Origin | None
    ) -> None:
        part.running += 1
        self._in_flight += 1
        if self._in_flight >= self._max_in_flight and not self._backpressure:
            self._backpressure = True
            assert self._room is not None
            self._room.clear()
        position = (part.topic, part.partition, offset)
        ctx = ProcessContext(self, message, part, position, attempt, origin)
        self._dispatcher.submit(message.key(), ctx)

    def _schedule_release(self, part: _Partition) -> None:
        if part.timer is not None or not part.held:
            return
        due_ms = part.held[0][1].due_ms or 0
        loop = asyncio.get_running_loop()
        part.timer = loop.call_later(max(0.0, due_ms / 1000 - time.time()), self._release, part)

    def _release(self, part: _Partition) -> None:
        """Dispatch the held retry records that are due; the fetch loop then resumes."""
        part.timer = None
        now_ms = time.time() * 1000
        while part.held and (part.held[0][1].due_ms or 0) <= now_ms:
            message, state = part.held.popleft()
            offset = cast(int, message.offset())
            self._dispatch(part, message, offset, state.attempts + 1, state.origin)
        self._schedule_release(part)

    def _start_event(self, ctx: ProcessContext) -> Rest | None:
        """Decode the event and run ``process()`` up to its first suspension (see
        :class:`KeyedDispatcher`); ``None`` when it already returned or failed."""
        part: _Partition = ctx.slot
        if part.revoked:  # still queued behind its key at the drain deadline: not started
            self._finish(part)
            return None
        try:
            value = ctx.value
            if value is None:
                raise InvalidEventError("the record has no value")
            ctx.item = item = self._processor.decode(value)
            awaitable = self._processor.process(item, ctx)
            coro = awaitable if type(awaitable) is types.CoroutineType else _wrap(awaitable)
            awaited = coro.send(None)
        except StopIteration:
            ctx.release()
            return None
        except Exception as exc:
            ctx.fail(exc)
            return None
        return self._finish_event(ctx, coro, awaited)

    @staticmethod
    async def _finish_event(
        ctx: ProcessContext, coro: Coroutine[Any, Any, None], awaited: Any
    ) -> None:
        try:
            await resume(coro, awaited)
        except Exception as exc:
            ctx.fail(exc)
        else:
            ctx.release()

    def _finish(self, part: _Partition) -> None:
        part.running -= 1
        self._in_flight -= 1
        self._settle(part)

    def _settle(self, part: _Partition) -> None:
        """After an event left ``part``: end a drain or backpressure that this completes."""
        if part.running == 0 and part.drained is not None and not part.drained.done():
            part.drained.set_result(None)
        if self._backpressure and self._in_flight <= self._resume_at:
            self._backpressure = self._stalled = False
            assert self._room is not None
            self._room.set()

    # --- the context's owner interface ---------------------------------------------------------

    def event_done(self, ctx: ProcessContext) -> None:
        """``ctx`` finished successfully: its offset may be committed."""
        part: _Partition = ctx.slot
        part.offsets.done(ctx.offset)
        self.metrics.processed_ok += 1
        part.running -= 1
        self._in_flight -= 1
        if part.drained is not None or self._backpressure:
            self._settle(part)

    def event_failed(self, ctx: ProcessContext, exc: BaseException) -> None:
        """``ctx`` failed: write it to its retry topic or the DLQ, then it is done.

        A failure after its partition's final commit (work abandoned at the drain deadline of a
        revoke or shutdown) is not routed: the event is uncommitted and will be redelivered.
        """
        part: _Partition = ctx.slot
        if part.revoked:
            logger.bind(topic=ctx.topic, partition=ctx.partition, offset=ctx.offset).info(
                "Event abandoned at the drain deadline; it will be redelivered"
            )
            return
        self._spawn(self._route_failure(ctx, exc))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._routing.add(task)
        task.add_done_callback(self._routing.discard)

    # --- failures -----------------------------------------------------------------------------

    async def _route_failure(self, ctx: ProcessContext, exc: BaseException) -> None:
        failure = classify_for_routing(exc)
        failure = attrs.evolve(failure, message=self._redactor.redact(failure.message))
        route = self._retry_schedule.route(
            failure, attempts=ctx.attempt, origin=ctx.origin, headers=ctx.headers, now=time.time()
        )
        log = logger.bind(
            topic=ctx.topic,
            partition=ctx.partition,
            offset=ctx.offset,
            attempt=ctx.attempt,
            category=failure.category,
            error_type=failure.error_type,
            destination=route.topic,
        )
        if not failure.expected:
            log.opt(exception=exc).error("Unexpected error processing an event")
        route = await self._write(route, ctx, failure)
        part: _Partition = ctx.slot
        if route.delay_label is not None:
            log.bind(delay=route.delay_label).warning("Event failed; sent to a retry topic")
            self.metrics.retries[route.delay_label] += 1
            self.metrics.processed["retry"] += 1
        else:
            log.bind(error=failure.message).error("Event failed; sent to the DLQ")
            self.metrics.dlq_writes[(route.topic, failure.category)] += 1
            self.metrics.processed["dlq"] += 1
            await self._notify_failed(ctx, exc, failure, route)
        part.offsets.done(ctx.offset)
        self._finish(part)

    async def _write(self, route: Route, ctx: ProcessContext, failure: RoutedFailure) -> Route:
        """Write the retry or DLQ record until acknowledged; return the route finally taken.

        A record too large for its topic goes to the DLQ with its value truncated; any other
        delivery failure is retried with backoff (the event stays uncommitted meanwhile).
        """
        original = ctx.value
        value, key = original, ctx.key
        keep = TRUNCATED_VALUE_BYTES
        backoff, max_backoff = _WRITE_BACKOFF_SECONDS
        while True:
            try:
                await self.producer.send(route.topic, value, key, route.headers)
                return route
            except DeliveryError as exc:
                if exc.too_large and original and keep >= 0:
                    if route.delay_label is not None:
                        route = self._retry_schedule.route(
                            attrs.evolve(failure, retryable=False),
                            attempts=ctx.attempt,
                            origin=ctx.origin,
                            headers=ctx.headers,
                            now=time.time(),
                        )
                    route, value = truncated(route, original, keep)
                    keep = 0 if keep else -1  # a second refusal: drop the value altogether
                    continue
                logger.bind(topic=route.topic, error=str(exc), retry_in=backoff).error(
                    "Could not write a failed event to its retry or DLQ topic"
                )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff)

    async def _notify_failed(
        self, ctx: ProcessContext, exc: BaseException, failure: RoutedFailure, route: Route
    ) -> None:
        if self._processor.on_failed is None:
            return
        failed = FailedEvent(
            item=ctx.item,
            context=ctx,
            error=exc,
            message=failure.message,
            category=failure.category,
            attempts=ctx.attempt,
            dlq_topic=route.topic,
        )
        try:
            await self._processor.on_failed(failed)
        except Exception:
            logger.bind(topic=ctx.topic, offset=ctx.offset).exception("on_failed raised")


def _client_error(exc: KafkaException, settings: KafkaSettings) -> KafkaRuntimeError:
    """A startup failure of a Kafka client as a :class:`KafkaRuntimeError` for the operator."""
    error = exc.args[0] if exc.args else exc
    if isinstance(error, KafkaError) and error.code() == KafkaError._INVALID_ARG:
        return KafkaRuntimeError(f"invalid Kafka client settings: {error.str()}")
    reason = error.str() if isinstance(error, KafkaError) else str(error)
    return KafkaRuntimeError(f"cannot reach Kafka at {settings.bootstrap_servers}: {reason}")


async def _wrap(awaitable: Awaitable[None]) -> None:
    await awaitable


def _describe(partitions: Iterable[TopicPartition]) -> str:
    return ",".join(f"{tp.topic}[{tp.partition}]" for tp in partitions)
