"""How late actions are: the end-to-end latency of each delivered webhook or publish (from its
event's Kafka timestamp to its delivery) by plugin instance and trigger, and the age of the
oldest action still pending.

The trigger label is the ``trigger_name`` of the action's payload (what the task trigger puts
there), else empty. Its values come from the operators' configuration, and still at most
:data:`MAX_TRIGGER_SERIES` (instance, trigger) pairs get a series of their own: the others are
counted under ``trigger="other"``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Gauge, Histogram

from claimx_worker.actions.executor import ActionOutcome, OutcomeStatus
from claimx_worker.model import Action, PublishToTopic, Webhook

MAX_TRIGGER_SERIES = 200
OTHER_TRIGGER = "other"
_MAX_LABEL_CHARS = 100
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class ActionTimings:
    """``claimx_action_latency_seconds{instance,trigger}`` and
    ``claimx_oldest_pending_action_age_seconds``, fed by :meth:`track`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._latency = Histogram(
            "claimx_action_latency_seconds",
            "Seconds from an event's Kafka timestamp to the delivery of an action it caused "
            "(webhooks and publishes), by plugin instance and trigger.",
            ["instance", "trigger"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        Gauge(
            "claimx_oldest_pending_action_age_seconds",
            "Seconds the oldest webhook or publish not yet delivered or dead-lettered has waited.",
            registry=registry,
        ).set_function(self.oldest_pending_age)
        self._series: set[tuple[str, str]] = set()
        self._pending: deque[tuple[float, asyncio.Future[ActionOutcome]]] = deque()

    def track(
        self,
        future: asyncio.Future[ActionOutcome],
        *,
        instance: str,
        action: Action,
        event_timestamp_ms: int | None,
    ) -> None:
        """Time the action behind ``future`` (from the executor's ``submit``)."""
        if not isinstance(action, Webhook | PublishToTopic):
            return
        self._pending.append((time.monotonic(), future))
        trigger = self._trigger(instance, action)
        future.add_done_callback(
            lambda done: self._finished(done, instance, trigger, event_timestamp_ms)
        )

    def oldest_pending_age(self) -> float:
        """Seconds the oldest pending action has waited (0 when none); safe from any thread."""
        try:
            submitted, _ = self._pending[0]
        except IndexError:
            return 0.0
        return max(0.0, time.monotonic() - submitted)

    def _finished(
        self,
        future: asyncio.Future[ActionOutcome],
        instance: str,
        trigger: str,
        event_timestamp_ms: int | None,
    ) -> None:
        pending = self._pending
        while pending and pending[0][1].done():
            pending.popleft()
        if future.cancelled() or future.exception() is not None or event_timestamp_ms is None:
            return
        if future.result().status is OutcomeStatus.DELIVERED:
            latency = max(0.0, time.time() - event_timestamp_ms / 1000)
            self._latency.labels(instance, trigger).observe(latency)

    def _trigger(self, instance: str, action: Webhook | PublishToTopic) -> str:
        payload = action.body if isinstance(action, Webhook) else action.value
        name = payload.get("trigger_name") if isinstance(payload, Mapping) else None
        trigger = name[:_MAX_LABEL_CHARS] if isinstance(name, str) else ""
        series = (instance, trigger)
        if series in self._series:
            return trigger
        if len(self._series) >= MAX_TRIGGER_SERIES:
            return OTHER_TRIGGER
        self._series.add(series)
        return trigger
