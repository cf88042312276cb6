"""In-flight accounting: every dispatched event is counted until it is done, and the count
drives the backpressure. The accountant is what each :class:`ProcessContext` reports to.

An event is in flight from :meth:`InFlight.track` until it is done: it succeeded
(:meth:`InFlight.event_done`), its failure was written to a retry topic or the DLQ
(:meth:`InFlight.event_failed`), or it was never started because its partition was revoked
(:meth:`InFlight.finish`). At ``max_in_flight`` events the runtime is under backpressure: it
stops fetching until the count drops to ``resume_at``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from confluent_kafka import Message
from loguru import logger

from claimx_worker.kafka.context import ProcessContext
from claimx_worker.kafka.metrics import RuntimeMetrics
from claimx_worker.kafka.partitions import AssignedPartition
from claimx_worker.kafka.producer import DeliveryProducer
from claimx_worker.kafka.routing import Origin

RouteFailure = Callable[[ProcessContext, BaseException], Coroutine[Any, Any, None]]
"""Writes a failed event to its retry topic or the DLQ (the event is done once it returns)."""


class InFlight:
    """Counts events in flight, per partition and in all, and owns their contexts.

    ``route_failure`` is run (as a task) for each failed event; ``metrics`` counts the events done.
    """

    def __init__(
        self,
        producer: DeliveryProducer,
        *,
        max_in_flight: int,
        resume_at: int,
        route_failure: RouteFailure,
        metrics: RuntimeMetrics,
    ) -> None:
        self.producer = producer
        """The producer a context produces through."""
        self._max_in_flight = max_in_flight
        self._resume_at = resume_at
        self._route_failure = route_failure
        self._metrics = metrics
        self.count = 0
        """Events tracked and not yet done."""
        self.backpressure = False
        """At ``max_in_flight``: no fetching until ``resume_at``."""
        self.stalled = False
        """The backpressure lasted long enough to pause every partition (cleared with it)."""
        self.room = asyncio.Event()
        """Set when the backpressure ends (or the runtime stops)."""
        self._failing: set[asyncio.Task[None]] = set()

    def track(
        self,
        part: AssignedPartition,
        message: Message,
        offset: int,
        attempt: int,
        origin: Origin | None,
    ) -> ProcessContext:
        """Count a dispatched event and return its context."""
        part.running += 1
        self.count += 1
        if self.count >= self._max_in_flight and not self.backpressure:
            self.backpressure = True
            self.room.clear()
        position = (part.topic, part.partition, offset)
        return ProcessContext(self, message, part, position, attempt, origin)

    def event_done(self, ctx: ProcessContext) -> None:
        """``ctx`` finished successfully: its offset may be committed."""
        part: AssignedPartition = ctx.slot
        part.offsets.done(ctx.offset)
        self._metrics.processed_ok += 1
        part.running -= 1
        self.count -= 1
        if part.drained is not None or self.backpressure:
            self._settle(part)

    def event_failed(self, ctx: ProcessContext, exc: BaseException) -> None:
        """``ctx`` failed: write it to its retry topic or the DLQ, then it is done.

        A failure after its partition's final commit (work abandoned at the drain deadline of a
        revoke or shutdown) is not routed: the event is uncommitted and will be redelivered.
        """
        part: AssignedPartition = ctx.slot
        if part.revoked:
            logger.bind(topic=ctx.topic, partition=ctx.partition, offset=ctx.offset).info(
                "Event abandoned at the drain deadline; it will be redelivered"
            )
            return
        task = asyncio.create_task(self._fail(ctx, exc))
        self._failing.add(task)
        task.add_done_callback(self._failing.discard)

    async def _fail(self, ctx: ProcessContext, exc: BaseException) -> None:
        await self._route_failure(ctx, exc)
        part: AssignedPartition = ctx.slot
        part.offsets.done(ctx.offset)
        self.finish(part)

    def finish(self, part: AssignedPartition) -> None:
        """An event of ``part`` is done without succeeding (routed, or not started)."""
        part.running -= 1
        self.count -= 1
        self._settle(part)

    def _settle(self, part: AssignedPartition) -> None:
        """After an event left ``part``: end a drain or backpressure that this completes."""
        if part.running == 0 and part.drained is not None and not part.drained.done():
            part.drained.set_result(None)
        if self.backpressure and self.count <= self._resume_at:
            self.backpressure = self.stalled = False
            self.room.set()

    async def cancel_failures(self) -> None:
        """Stop writing failed events (at shutdown; they stay uncommitted)."""
        tasks = list(self._failing)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
