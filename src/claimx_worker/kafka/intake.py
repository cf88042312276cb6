"""Fetched records into the processor: offsets tracked, retry records held until they are due,
events dispatched in key order (:class:`~claimx_worker.kafka.dispatch.KeyedDispatcher`) and
started eagerly."""

from __future__ import annotations

import asyncio
import time
import types
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

from confluent_kafka import KafkaError, Message

from claimx_worker.errors import InvalidEventError
from claimx_worker.kafka.context import ProcessContext, Processor
from claimx_worker.kafka.dispatch import KeyedDispatcher, Rest, resume
from claimx_worker.kafka.outages import report_client_error
from claimx_worker.kafka.partitions import AssignedPartition, Assignment
from claimx_worker.kafka.routing import Origin, read_retry_state, record_headers

Track = Callable[[AssignedPartition, Message, int, int, Origin | None], ProcessContext]
"""Counts an event in flight and returns its context (see :meth:`InFlight.track`)."""


class Intake:
    """Dispatches fetched records of the ``assignment`` to ``processor``.

    ``track`` counts each dispatched event; ``finish`` ends the count of one that is not started
    because its partition was revoked meanwhile; ``consumed`` counts records by topic;
    ``on_fatal`` gets the reason of a fatal consume error.
    """

    def __init__(
        self,
        processor: Processor[Any],
        assignment: Assignment,
        *,
        track: Track,
        finish: Callable[[AssignedPartition], None],
        consumed: Counter[str],
        on_fatal: Callable[[str], None],
    ) -> None:
        self._decode = processor.decode
        self._process = processor.process
        self._assignment = assignment
        self._track = track
        self._finish = finish
        self._consumed = consumed
        self._on_fatal = on_fatal
        self._dispatcher: KeyedDispatcher[ProcessContext] = KeyedDispatcher(self._start)
        self._submit = self._dispatcher.submit

    def accept(self, messages: list[Message]) -> None:
        """Track and dispatch a fetched batch; hold retry records that are not due yet."""
        now = time.time()
        now_ms = now * 1000
        partitions = self._assignment.partitions
        consumed = self._consumed
        track = self._track
        submit = self._submit
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
            part.offsets.add(offset, now)
            if part.delay is None:
                submit(message.key(), track(part, message, offset, 1, None))
                continue
            state = read_retry_state(
                record_headers(message),
                topic,
                part.partition,
                offset,
                now_ms=now_ms,
                delay_seconds=part.delay,
            )
            if part.held or (state.due_ms is not None and state.due_ms > now_ms):
                part.held.append((message, state))
                self._schedule_release(part)
            else:
                submit(
                    message.key(), track(part, message, offset, state.attempts + 1, state.origin)
                )

    async def cancel(self) -> None:
        """Cancel the events still running and drop the queued ones (at shutdown)."""
        await self._dispatcher.cancel()

    def _consume_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._on_fatal(f"consumer: {error.str()}")
        else:
            report_client_error("consumer", error)

    def _schedule_release(self, part: AssignedPartition) -> None:
        if part.timer is not None or not part.held:
            return
        due_ms = part.held[0][1].due_ms or 0
        loop = asyncio.get_running_loop()
        part.timer = loop.call_later(max(0.0, due_ms / 1000 - time.time()), self._release, part)

    def _release(self, part: AssignedPartition) -> None:
        """Dispatch the held retry records that are due; the fetch loop then resumes."""
        part.timer = None
        now_ms = time.time() * 1000
        while part.held and (part.held[0][1].due_ms or 0) <= now_ms:
            message, state = part.held.popleft()
            offset = cast(int, message.offset())
            ctx = self._track(part, message, offset, state.attempts + 1, state.origin)
            self._submit(message.key(), ctx)
        self._schedule_release(part)

    def _start(self, ctx: ProcessContext) -> Rest | None:
        """Decode the event and run ``process()`` up to its first suspension (see
        :class:`KeyedDispatcher`); ``None`` when it already returned or failed."""
        part: AssignedPartition = ctx.slot
        if part.revoked:  # still queued behind its key at the drain deadline: not started
            self._finish(part)
            return None
        try:
            value = ctx.value
            if value is None:
                raise InvalidEventError("the record has no value")
            ctx.item = item = self._decode(value)
            awaitable = self._process(item, ctx)
            coro = awaitable if type(awaitable) is types.CoroutineType else _wrap(awaitable)
            awaited = coro.send(None)
        except StopIteration:
            ctx.release()
            return None
        except Exception as exc:
            ctx.fail(exc)
            return None
        return _finish_event(ctx, coro, awaited)


async def _finish_event(ctx: ProcessContext, coro: Coroutine[Any, Any, None], awaited: Any) -> None:
    try:
        await resume(coro, awaited)
    except Exception as exc:
        ctx.fail(exc)
    else:
        ctx.release()


async def _wrap(awaitable: Awaitable[None]) -> None:
    await awaitable
