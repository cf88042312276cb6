"""The Kafka runtime: consume, dispatch by key, track offsets, route failures, drain and commit.

One asyncio loop drives everything. The consumer is ``confluent_kafka.aio.AIOConsumer`` fetching
in batches (``consume(N)``); only the fetch loop (and the rebalance callbacks it triggers) calls
it. Output messages go through :class:`~claimx_worker.kafka.producer.DeliveryProducer`.
:class:`KafkaRuntime` wires the parts, each in a module of its own, and starts and stops them:

- :mod:`.fetching`: the fetch loop, backpressure, pausing and resuming partitions;
- :mod:`.intake`: fetched records into the processor, retry records held until due, key order;
- :mod:`.in_flight`: events counted until done; what each :class:`ProcessContext` reports to;
- :mod:`.failures`: failed events written to their retry topic or the DLQ;
- :mod:`.rebalance` and :mod:`.partitions`: the assignment, positioned where the processor
  resumes (``Processor.start_offsets``), drained and committed on revoke;
- :mod:`.commits`: offsets committed every ``commit_interval_seconds``, on revoke (after draining
  up to ``drain_deadline_seconds``) and at shutdown;
- :mod:`.lag`: the consumer lag of the assigned partitions, sampled every
  ``lag_interval_seconds`` (:meth:`KafkaRuntime.lag`);
- :mod:`.outages`: while Kafka cannot be reached, one line when the connection is lost, a summary
  while it stays down, one when it is back, instead of a line per client and attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Generic, TypeVar

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.aio import AIOConsumer
from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker.errors import ClaimXWorkerError
from claimx_worker.kafka.clients import (
    admin_config,
    consumer_config,
    incremental_rebalancing,
    producer_config,
)
from claimx_worker.kafka.commits import CommittedOffset, OffsetCommitter
from claimx_worker.kafka.context import Processor
from claimx_worker.kafka.failures import FailureRouter
from claimx_worker.kafka.fetching import Fetcher
from claimx_worker.kafka.in_flight import InFlight
from claimx_worker.kafka.intake import Intake
from claimx_worker.kafka.lag import LagMetrics, LagMonitor, LagSnapshot
from claimx_worker.kafka.metrics import RuntimeMetrics
from claimx_worker.kafka.outages import ConnectionWatch, report_client_error
from claimx_worker.kafka.partitions import Assignment
from claimx_worker.kafka.producer import DeliveryProducer
from claimx_worker.kafka.rebalance import Rebalance, drain
from claimx_worker.kafka.routing import RetryTopicSchedule
from claimx_worker.kafka.settings import KafkaSettings
from claimx_worker.kafka.topics import ensure_topics
from claimx_worker.observability.redaction import Redactor

T = TypeVar("T")

_CONSUMER_THREADS = 4  # a rebalance callback's re-entrant calls need a second thread


class KafkaRuntimeError(ClaimXWorkerError):
    """The runtime stopped on a fatal Kafka error (e.g. the idempotent producer failed)."""


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
        self._on_stop = processor.on_stop
        self._startup_timeout = startup_timeout
        self._drain_deadline = processing.drain_deadline_seconds
        retry_topics = worker.retry_topics()
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
        self._topics_checked = False
        self._fatal: str | None = None
        self.producer = DeliveryProducer(producer_config(settings), on_fatal=self._fatal_error)
        """The runtime's producer; :class:`ProcessContext` produces through it."""
        self._assignment = assignment = Assignment(retry_topics)
        self.metrics = RuntimeMetrics(
            registry,
            in_flight=lambda: self._in_flight.count,
            uncommitted=assignment.uncommitted,
            assigned=lambda: len(assignment.partitions),
            paused=lambda: len(assignment.paused),
        )
        self._lag = LagMonitor(
            admin_config(settings),
            worker.consumer_group,
            assignment,
            interval=processing.lag_interval_seconds,
        )
        LagMetrics(registry, self._lag.snapshot)
        self._watch = ConnectionWatch(self._cluster_answers)
        self._probe_admin: AdminClient | None = None
        schedule = RetryTopicSchedule(
            {
                topic: (label, seconds)
                for (topic, seconds), label in zip(
                    retry_topics.items(), processing.retry_delays, strict=True
                )
            },
            worker.topics.dlq,
        )
        failures = FailureRouter(
            self.producer,
            schedule,
            redactor=Redactor() if redactor is None else redactor,
            on_failed=processor.on_failed,
            metrics=self.metrics,
        )
        self._in_flight = InFlight(
            self.producer,
            max_in_flight=processing.max_in_flight,
            resume_at=processing.resume_at,
            route_failure=failures.route,
            metrics=self.metrics,
        )
        self._intake = Intake(
            processor,
            assignment,
            track=self._in_flight.track,
            finish=self._in_flight.finish,
            consumed=self.metrics.consumed,
            on_fatal=self._fatal_error,
        )
        self._committer = OffsetCommitter(self.metrics, on_commit)
        self._rebalance = Rebalance(
            assignment,
            commit=self._committer.commit,
            drain_deadline=self._drain_deadline,
            start_offsets=processor.start_offsets,
            incremental=incremental_rebalancing(consumer_config(settings)),
        )
        self._fetcher = Fetcher(
            assignment,
            self._in_flight,
            accept=self._intake.accept,
            commit=self._committer.commit,
            batch_size=processing.batch_size,
            fetch_timeout=processing.fetch_timeout_seconds,
            commit_interval=processing.commit_interval_seconds,
        )

    def partitions(self) -> list[dict[str, object]]:
        """The assigned partitions (a snapshot, safe from another thread): topic, partition,
        paused, events running and fetched-but-uncommittable, and at the last lag sample
        (``None`` before one) the lag, the committed offset and the oldest waiting event's age."""
        paused = set(self._assignment.paused)
        lags = {(lag.topic, lag.partition): lag for lag in self._lag.snapshot().partitions}
        listed: list[dict[str, object]] = []
        for (topic, partition), part in sorted(list(self._assignment.partitions.items())):
            lag = lags.get((topic, partition))
            listed.append(
                {
                    "topic": topic,
                    "partition": partition,
                    "paused": (topic, partition) in paused,
                    "running": part.running,
                    "uncommitted": part.offsets.uncommittable,
                    "lag": None if lag is None else lag.lag,
                    "committed": None if lag is None else lag.committed,
                    "oldest_uncommitted_age_seconds": (
                        None if lag is None else lag.oldest_uncommitted_age_seconds
                    ),
                }
            )
        return listed

    def stop(self) -> None:
        """Stop fetching; :meth:`run` drains, commits, calls ``on_stop``, flushes and returns."""
        self._fetcher.stop()

    def lag(self) -> LagSnapshot:
        """The assigned partitions' lag at the last sample (read-only; safe from any thread)."""
        return self._lag.snapshot()

    async def check_topics(self) -> None:
        """Check (or create) every topic of :attr:`topics`, once (:meth:`run` starts with it).
        Raises :class:`~claimx_worker.kafka.MissingTopicsError` when topics are missing (and
        creation is off), :class:`KafkaRuntimeError` when the cluster cannot be reached."""
        if self._topics_checked:
            return
        settings = self._settings
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
        self._topics_checked = True

    async def run(self) -> None:
        """Run until :meth:`stop`. Raises :class:`~claimx_worker.kafka.MissingTopicsError` when
        topics are missing (and creation is off), :class:`KafkaRuntimeError` when the cluster
        cannot be reached at start or on a fatal error."""
        await self.check_topics()
        async with self._background():
            await self._consume()
        if self._fatal is not None:
            raise KafkaRuntimeError(self._fatal)

    @contextlib.asynccontextmanager
    async def _background(self) -> AsyncIterator[None]:
        """The lag sampling and the connection watch, from start to stop."""
        self._watch.install()
        tasks = [
            asyncio.create_task(self._lag.run(), name="claimx-lag"),
            asyncio.create_task(self._watch.run(), name="claimx-connection-watch"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._watch.uninstall()

    def _cluster_answers(self) -> bool:
        """Whether the cluster serves metadata now (blocking; the connection watch's probe)."""
        if self._probe_admin is None:
            self._probe_admin = AdminClient({**admin_config(self._settings), "log_level": 0})
        try:
            self._probe_admin.list_topics(timeout=2.0)
        except KafkaException:
            return False
        return True

    async def _consume(self) -> None:
        settings = self._settings
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
                on_assign=self._rebalance.on_assign,
                on_revoke=self._rebalance.on_revoke,
                on_lost=self._rebalance.on_lost,
            )
            logger.bind(
                group=settings.worker.consumer_group, topics=",".join(self.input_topics)
            ).info("Kafka runtime started")
            await self._fetcher.run(consumer)
        finally:
            await self._shutdown(consumer)

    async def _shutdown(self, consumer: AIOConsumer) -> None:
        parts = self._assignment.clear()
        await drain(parts, self._drain_deadline)
        await self._committer.commit(consumer, parts)
        await self._intake.cancel()
        await self._in_flight.cancel_failures()
        if self._on_stop is not None:
            try:
                await self._on_stop()
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
            report_client_error("consumer", error)


def _client_error(exc: KafkaException, settings: KafkaSettings) -> KafkaRuntimeError:
    """A startup failure of a Kafka client as a :class:`KafkaRuntimeError` for the operator."""
    error = exc.args[0] if exc.args else exc
    if isinstance(error, KafkaError) and error.code() == KafkaError._INVALID_ARG:
        return KafkaRuntimeError(f"invalid Kafka client settings: {error.str()}")
    reason = error.str() if isinstance(error, KafkaError) else str(error)
    return KafkaRuntimeError(f"cannot reach Kafka at {settings.bootstrap_servers}: {reason}")
