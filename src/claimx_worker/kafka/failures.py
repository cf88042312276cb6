"""Writing failed events to their retry topic or the DLQ (where to: :mod:`.routing`), logging
and counting them, and telling the processor about dead-lettered ones."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from attrs import define, field
from loguru import logger

from claimx_worker.kafka.context import FailedEvent, ProcessContext
from claimx_worker.kafka.metrics import RuntimeMetrics
from claimx_worker.kafka.producer import DeliveryError, DeliveryProducer
from claimx_worker.kafka.routing import (
    TRUNCATED_VALUE_BYTES,
    RetryTopicSchedule,
    Route,
    RoutedFailure,
    classify_for_routing,
    truncated,
)
from claimx_worker.observability.redaction import Redactor

_WRITE_BACKOFF_SECONDS = (0.5, 30.0)


@define
class FailureRouter:
    """Routes failed events along the ``schedule`` through ``producer``.

    ``redactor`` masks secrets in the error messages written; ``on_failed`` (optional, the
    processor's) is awaited after a DLQ record is acknowledged.
    """

    _producer: DeliveryProducer
    _schedule: RetryTopicSchedule
    _redactor: Redactor = field(kw_only=True)
    _on_failed: Callable[[FailedEvent[Any]], Awaitable[None]] | None = field(kw_only=True)
    _metrics: RuntimeMetrics = field(kw_only=True)

    async def route(self, ctx: ProcessContext, exc: BaseException) -> None:
        """Write the event of ``ctx``, failed with ``exc``, to its retry topic or the DLQ, and
        return once the record is acknowledged (retrying the write meanwhile)."""
        failure = classify_for_routing(exc)
        failure = attrs.evolve(failure, message=self._redactor.redact(failure.message))
        attempts = ctx.attempt if failure.spends_attempt else ctx.attempt - 1
        route = self._schedule.route(
            failure, attempts=attempts, origin=ctx.origin, headers=ctx.headers, now=time.time()
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
        if route.delay_label is not None and not failure.spends_attempt:
            log.bind(delay=route.delay_label, error=failure.message).debug(
                "Event deferred; sent to a retry topic without spending an attempt"
            )
            self._metrics.retries[route.delay_label] += 1
            self._metrics.processed["deferred"] += 1
        elif route.delay_label is not None:
            log.bind(delay=route.delay_label, error=failure.message).warning(
                "Event failed; sent to a retry topic"
            )
            self._metrics.retries[route.delay_label] += 1
            self._metrics.processed["retry"] += 1
        else:
            log.bind(error=failure.message).error("Event failed; sent to the DLQ")
            self._metrics.dlq_writes[(route.topic, failure.category)] += 1
            self._metrics.processed["dlq"] += 1
            await self._notify_failed(ctx, exc, failure, route)

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
                await self._producer.send(route.topic, value, key, route.headers)
                return route
            except DeliveryError as exc:
                if exc.too_large and original and keep >= 0:
                    if route.delay_label is not None:
                        route = self._schedule.route(
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
        if self._on_failed is None:
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
            await self._on_failed(failed)
        except Exception:
            logger.bind(topic=ctx.topic, offset=ctx.offset).exception("on_failed raised")
