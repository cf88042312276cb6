"""The per-event processing interface: :class:`Processor`, :class:`ProcessContext`, failures.

When is an event done? When ``process(item, ctx)`` has returned, every message it produced with
:meth:`ProcessContext.produce` has been acknowledged by the broker, and every awaitable handed to
:meth:`ProcessContext.defer` has completed. Only then may its offset be committed.

Ordering: events with the same Kafka key run ``process()`` one at a time in offset order; the next
event of a key starts as soon as ``process()`` of the previous one *returns*, even while its
outputs and deferred work are still pending. Events without a key have no order. ``process()``
starts eagerly: the part before its first ``await`` runs while the batch is dispatched, in the
runtime's fetch task. So a processor must not enter a ``TaskGroup`` or ``asyncio.timeout`` before
its first suspension (a failure there would cancel the fetch task): ``await asyncio.sleep(0)``
first, as the ClaimX pipeline does. A processor that never suspends costs no task at all.

Rebalance and shutdown: events already fetched from a revoked partition (also those queued behind
their key) are finished up to the drain deadline before the commit; what is still queued then is
not started, and what is still running is not committed (it will be redelivered).

Failures: an exception from ``decode`` or ``process``, a failed delivery of a produced message, or
an exception from deferred work fails the event (once; later failures of the same event are
ignored). :class:`~claimx_worker.errors.TransientError` (and a failed delivery) sends it to the
next retry topic, or to the DLQ after the last retry; anything else sends it to the DLQ at once.
A failed event is done when its retry or DLQ record is acknowledged; its other pending outputs
and deferred work are no longer waited for. A retried event is processed again with
:attr:`ProcessContext.attempt` one higher and the same :attr:`ProcessContext.origin`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from attrs import frozen
from confluent_kafka import Message

from claimx_worker.errors import TransientError
from claimx_worker.kafka.producer import DeliveryError, DeliveryProducer, Headers
from claimx_worker.kafka.routing import Origin, record_headers

T = TypeVar("T")


class _Owner(Protocol):
    """What a context needs from the runtime: its
    :class:`~claimx_worker.kafka.in_flight.InFlight` accounting."""

    producer: DeliveryProducer

    def event_done(self, ctx: ProcessContext) -> None: ...

    def event_failed(self, ctx: ProcessContext, exc: BaseException) -> None: ...


class ProcessContext:
    """One consumed event in progress: its source record, :meth:`produce` and :meth:`defer`."""

    __slots__ = (
        "_finished",
        "_message",
        "_origin",
        "_owner",
        "_pending",
        "attempt",
        "item",
        "offset",
        "partition",
        "slot",
        "topic",
    )

    def __init__(
        self,
        owner: _Owner,
        message: Message,
        slot: Any,
        position: tuple[str, int, int],
        attempt: int = 1,
        origin: Origin | None = None,
    ) -> None:
        self._owner = owner
        self._message = message
        self._pending = 1  # process() itself
        self._finished = False
        self._origin = origin
        self.slot = slot
        """The runtime's bookkeeping for this event's partition (internal)."""
        self.topic, self.partition, self.offset = position
        """Where the record was consumed (the input topic or a retry topic)."""
        self.attempt = attempt
        """1 for the first processing attempt, 2 for the first retry, and so on."""
        self.item: Any = None
        """The decoded event, once decoded."""

    @property
    def origin(self) -> Origin:
        """Where the event was first consumed (the input topic, also for retries)."""
        return self._origin or Origin(self.topic, self.partition, self.offset)

    def __repr__(self) -> str:
        return (
            f"ProcessContext(topic={self.topic!r}, partition={self.partition}, "
            f"offset={self.offset}, attempt={self.attempt})"
        )

    @property
    def key(self) -> bytes | None:
        """The record's key (the project id for ClaimX events)."""
        key: bytes | None = self._message.key()
        return key

    @property
    def value(self) -> bytes | None:
        """The record's value, as consumed."""
        value: bytes | None = self._message.value()
        return value

    @property
    def headers(self) -> list[tuple[str, bytes | None]]:
        """The record's headers (including the runtime's retry headers on retry topics); none
        when one of their names is not UTF-8 (see :func:`~.routing.record_headers`)."""
        return record_headers(self._message)

    @property
    def timestamp_ms(self) -> int | None:
        """The record's timestamp in epoch milliseconds, when it has one."""
        kind, stamp = self._message.timestamp()
        return int(stamp) if kind else None

    @property
    def done(self) -> bool:
        """Whether the event is done (or failed and handed to the retry/DLQ routing)."""
        return self._finished

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | str | None = None,
        headers: Headers | None = None,
    ) -> None:
        """Produce a message as part of this event: the event is not done until it is acked.

        A message produced after the event is done or failed is sent but not tracked.
        """
        if self._finished:
            self._owner.producer.produce(topic, value, key, headers)
            return
        self._pending += 1
        self._owner.producer.produce(topic, value, key, headers, self._delivered)

    def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | str | None = None,
        headers: Headers | None = None,
    ) -> asyncio.Future[None]:
        """:meth:`produce` that also returns a future resolved on the acknowledgement (or failed
        with :class:`~claimx_worker.kafka.DeliveryError`), for code that must wait for it."""
        future = self._owner.producer.send(topic, value, key, headers)
        self.defer(future)
        return future

    def defer(self, work: Awaitable[object]) -> None:
        """Keep the event from being done until ``work`` completes (it runs off the key's order).

        An exception from ``work`` fails the event; cancelled work counts as a transient failure.
        """
        future = asyncio.ensure_future(work)
        if self._finished:
            return
        self._pending += 1
        future.add_done_callback(self._deferred_done)

    def _delivered(self, error: DeliveryError | None) -> None:
        if error is not None:
            self.fail(error)
            return
        self._pending -= 1
        if self._pending == 0 and not self._finished:
            self._finished = True
            self._owner.event_done(self)

    def _deferred_done(self, future: asyncio.Future[object]) -> None:
        if future.cancelled():
            self.fail(TransientError("deferred work was cancelled"))
        elif (exc := future.exception()) is not None:
            self.fail(exc)
        else:
            self.release()

    def release(self) -> None:
        """One pending part (``process()``, an output, deferred work) finished successfully."""
        self._pending -= 1
        if self._pending == 0 and not self._finished:
            self._finished = True
            self._owner.event_done(self)

    def fail(self, exc: BaseException) -> None:
        """The event failed; the first failure is routed, later ones are ignored."""
        if not self._finished:
            self._finished = True
            self._owner.event_failed(self, exc)


@frozen(kw_only=True)
class FailedEvent(Generic[T]):
    """An event that was written to the DLQ, as given to :attr:`Processor.on_failed`."""

    item: T | None
    """The decoded event, or ``None`` when the record could not be decoded."""
    context: ProcessContext
    """The record's context (topic, partition, offset, key, headers, attempt, origin)."""
    error: BaseException
    message: str
    """The error's message as written to the DLQ record (secrets masked)."""
    category: str
    attempts: int
    dlq_topic: str


StartOffsets = Callable[[Sequence[tuple[str, int]]], Awaitable[Mapping[tuple[str, int], int]]]
"""A processor's own record of where to resume: given the ``(topic, partition)`` pairs just
assigned, the next offset to read of those it knows (leave out the others)."""


@frozen(kw_only=True)
class Processor(Generic[T]):
    """What the runtime runs per event.

    - ``decode(value) -> T``: turns a record's value into an event (e.g.
      :func:`claimx_worker.model.event.parse_event`); raise
      :class:`~claimx_worker.errors.InvalidEventError` for a bad record. A record without a value
      is invalid without calling it.
    - ``process(item, ctx)``: handles one event (see the module docstring for semantics).
    - ``on_failed(failed)``: optional; awaited after an event's DLQ record is acknowledged
      (before the event counts as done); its exceptions are logged and ignored.
    - ``on_stop()``: optional; awaited once at shutdown after in-flight events were drained and
      offsets committed, before the producer is flushed.
    - ``output_topics``: topics ``process`` writes to besides the worker's own (e.g. plugin
      publish topics); checked (or created) at start with them.
    - ``start_offsets(partitions)``: optional; awaited when partitions are assigned (at start and
      on every rebalance), before anything is fetched from them. Each partition is then read from
      the greater of the group's committed offset and the offset returned for it (a partition
      left out, or a failing call, reads from the committed offset). For a processor that
      records its progress with its output, outside Kafka (the table writer, in the Delta
      tables): it does not read again what it wrote before a crash kept Kafka's commit back.
    """

    decode: Callable[[bytes], T]
    process: Callable[[T, ProcessContext], Awaitable[None]]
    on_failed: Callable[[FailedEvent[T]], Awaitable[None]] | None = None
    on_stop: Callable[[], Awaitable[None]] | None = None
    output_topics: Collection[str] = ()
    start_offsets: StartOffsets | None = None
