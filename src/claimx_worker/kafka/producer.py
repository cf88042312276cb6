"""An asyncio producer that keeps per-message headers and resolves a future per delivery.

``confluent_kafka.aio.AIOProducer`` batches through a path that drops per-message headers, and
our idempotency keys and retry state travel in headers. So this wraps the plain
``confluent_kafka.Producer``: :meth:`DeliveryProducer.produce` enqueues on the event loop thread
(librdkafka copies the message and returns at once), and the loop serves delivery reports with
``poll(0)`` on a timer (:func:`next_poll_delay`): a millisecond after a message is produced or a
report arrives, every 50 ms with nothing unacknowledged (librdkafka's errors and logs come
through ``poll`` too), and in between while messages wait without a report (a broker outage).

A thread blocked in ``poll()`` served them before: confluent-kafka takes the GIL for each
report's callback, and wresting it from the busy loop thread cost more CPU than the polling
(benchmarks/README.md).
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from loguru import logger

from claimx_worker.errors import ClaimXWorkerError
from claimx_worker.kafka.outages import report_client_error

Headers = Sequence[tuple[str, bytes | str | None]] | Mapping[str, bytes | str | None]
BUSY_POLL_SECONDS = 0.001
"""The wait before the next poll after a message is produced or a report arrives."""
IDLE_POLL_SECONDS = 0.05
"""The longest wait between polls (with nothing unacknowledged, always)."""


def next_poll_delay(delay: float, *, unacknowledged: bool, served: bool) -> float:
    """The wait before the next poll, after one that came ``delay`` seconds after the one before:
    short while reports come, doubling up to :data:`IDLE_POLL_SECONDS` while messages wait without
    one (polling every millisecond through a broker outage cost 5% of a CPU)."""
    if not unacknowledged:
        return IDLE_POLL_SECONDS
    if served:
        return BUSY_POLL_SECONDS
    return min(delay * 2, IDLE_POLL_SECONDS)


class DeliveryError(ClaimXWorkerError):
    """A message was not acknowledged by the broker (librdkafka gave up on it or refused it)."""

    def __init__(self, error: KafkaError, topic: str) -> None:
        super().__init__(f"delivery to {topic} failed: {error.name()}: {error.str()}")
        self.error = error
        self.topic = topic

    @property
    def too_large(self) -> bool:
        """The message exceeds the producer's or the topic's size limit."""
        return bool(self.error.code() == KafkaError.MSG_SIZE_TOO_LARGE)


DeliveryCallback = Callable[[DeliveryError | None], None]
"""Called on the event loop with ``None`` once a message is acknowledged, or the error."""
_Report = tuple[DeliveryCallback | None, KafkaError | None, str]


class DeliveryProducer:
    """``confluent_kafka.Producer`` with delivery callbacks on the event loop (:meth:`produce`)
    or futures (:meth:`send`), its reports served by the loop.

    ``config`` is a librdkafka configuration; ``error_cb`` in it is replaced by one that logs and,
    for fatal errors (an idempotent producer that lost its guarantees), calls ``on_fatal`` on the
    loop. Use :meth:`start` before producing and :meth:`close` at the end.
    """

    def __init__(
        self, config: Mapping[str, Any], *, on_fatal: Callable[[str], None] | None = None
    ) -> None:
        self._config = dict(config)
        self._on_fatal = on_fatal
        self._producer: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poll_timer: asyncio.TimerHandle | None = None
        self._poll_delay = IDLE_POLL_SECONDS
        self._closed = False
        self._reports: list[_Report] = []
        self._overflow: deque[tuple[str, bytes | None, Any, Any, Any]] = deque()
        self._flushed: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Create the producer on the running loop and start serving its reports."""
        self._loop = asyncio.get_running_loop()
        self._producer = Producer({**self._config, "error_cb": self._error_cb})
        self._schedule_poll(IDLE_POLL_SECONDS)

    def __len__(self) -> int:
        """Messages not yet acknowledged (in librdkafka's queue or waiting for queue space)."""
        return len(self._producer) + len(self._overflow) if self._producer is not None else 0

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | str | None = None,
        headers: Headers | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        """Enqueue a message; ``on_delivery`` is called on the loop with ``None`` once the broker
        acknowledged it, or with a :class:`DeliveryError`.

        Call from the loop thread. When librdkafka's queue is full the message waits in a local
        queue, in order, until there is space; it never raises ``BufferError``.
        """
        if self._poll_delay != BUSY_POLL_SECONDS:
            self._schedule_poll(BUSY_POLL_SECONDS)
        report = functools.partial(self._report, on_delivery, topic)
        hdrs = headers if headers is None or type(headers) is list else _header_list(headers)
        if self._overflow:
            self._overflow.append((topic, value, key, hdrs, report))
            return
        try:
            self._producer.produce(topic, value, key, headers=hdrs, on_delivery=report)
        except BufferError:
            self._overflow.append((topic, value, key, hdrs, report))
        except KafkaException as exc:  # refused outright: reported like a failed delivery
            assert self._loop is not None, "DeliveryProducer.start() was not awaited"
            refused: _Report = (on_delivery, _kafka_error(exc), topic)
            self._loop.call_soon(self._resolve, [refused])

    def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | str | None = None,
        headers: Headers | None = None,
    ) -> asyncio.Future[None]:
        """Enqueue a message; the future resolves on acknowledgement or fails with
        :class:`DeliveryError`."""
        assert self._loop is not None, "DeliveryProducer.start() was not awaited"
        future: asyncio.Future[None] = self._loop.create_future()
        self.produce(topic, value, key, headers, functools.partial(_settle, future))
        return future

    def _report(
        self,
        on_delivery: DeliveryCallback | None,
        topic: str,
        error: KafkaError | None,
        _message: Any,
    ) -> None:
        # Called inside poll(): only collect, so that a failing callback cannot cut poll short.
        self._reports.append((on_delivery, error, topic))

    def _schedule_poll(self, delay: float) -> None:
        assert self._loop is not None, "DeliveryProducer.start() was not awaited"
        if self._closed:
            return
        if self._poll_timer is not None:
            self._poll_timer.cancel()
        self._poll_timer = self._loop.call_later(delay, self._poll)
        self._poll_delay = delay

    def _poll(self) -> None:
        """Serve the reports (and librdkafka's errors and logs), retry the messages waiting for
        queue space, run the callbacks; schedule the next poll."""
        self._poll_timer = None
        reports: list[_Report] = []
        try:
            self._producer.poll(0)
            self._drain_overflow()
            reports, self._reports = self._reports, []
            self._resolve(reports)
        finally:
            unacknowledged = len(self) > 0
            self._schedule_poll(
                next_poll_delay(
                    self._poll_delay, unacknowledged=unacknowledged, served=bool(reports)
                )
            )

    def _drain_overflow(self) -> None:
        while self._overflow:
            topic, value, key, headers, report = self._overflow[0]
            try:
                self._producer.produce(topic, value, key, headers=headers, on_delivery=report)
            except BufferError:
                return
            except KafkaException as exc:
                report(_kafka_error(exc), None)
            self._overflow.popleft()

    def _resolve(self, reports: list[_Report]) -> None:
        for on_delivery, error, topic in reports:
            if on_delivery is None:
                continue
            try:
                on_delivery(None if error is None else DeliveryError(error, topic))
            except Exception:  # a bug in one callback must not strand the other messages' events
                logger.opt(exception=True).bind(topic=topic).error("Delivery callback failed")
        flushed = self._flushed
        if flushed is not None and not flushed.done() and not len(self):
            flushed.set_result(None)

    def _error_cb(self, error: KafkaError) -> None:
        log = logger.bind(code=error.name(), fatal=error.fatal())
        if not error.fatal():
            report_client_error("producer", error)
            return
        log.error("Kafka producer fatal error: {}", error.str())
        if self._on_fatal is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._on_fatal, f"producer: {error.str()}")

    async def flush(self) -> None:
        """Wait until every message produced so far is acknowledged or has failed (bound it with
        ``asyncio.timeout``)."""
        assert self._loop is not None
        while len(self):
            self._flushed = self._loop.create_future()
            await self._flushed

    async def close(self) -> None:
        """Stop serving reports (call :meth:`flush` first)."""
        self._closed = True
        if self._poll_timer is not None:
            self._poll_timer.cancel()
            self._poll_timer = None


def _settle(future: asyncio.Future[None], error: DeliveryError | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _header_list(headers: Headers) -> list[tuple[str, bytes | str | None]]:
    return list(headers.items() if isinstance(headers, Mapping) else headers)


def _kafka_error(exc: KafkaException) -> KafkaError:
    error = exc.args[0] if exc.args else None
    return error if isinstance(error, KafkaError) else KafkaError(KafkaError._FAIL, str(exc))
