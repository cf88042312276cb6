"""Action timings: end-to-end latency by instance and trigger (bounded), oldest pending age."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry

from claimx_worker.actions import ActionOutcome, OutcomeStatus
from claimx_worker.actions.timing import MAX_TRIGGER_SERIES, OTHER_TRIGGER, ActionTimings
from claimx_worker.model import Log, PublishToTopic, Webhook

LATENCY = "claimx_action_latency_seconds"


def outcome(status: OutcomeStatus) -> ActionOutcome:
    return ActionOutcome(status=status, action_type="webhook", idempotency_key="k")


def count(registry: CollectorRegistry, instance: str, trigger: str) -> float:
    labels = {"instance": instance, "trigger": trigger}
    return registry.get_sample_value(f"{LATENCY}_count", labels) or 0.0


async def test_a_delivered_action_is_timed_from_its_events_timestamp() -> None:
    registry = CollectorRegistry()
    timings = ActionTimings(registry)
    future: asyncio.Future[ActionOutcome] = asyncio.get_running_loop().create_future()
    webhook = Webhook(url="https://example.com/h", body={"trigger_name": "Photo"})
    event_ms = int((time.time() - 2.0) * 1000)

    timings.track(future, instance="tt", action=webhook, event_timestamp_ms=event_ms)
    await asyncio.sleep(0.05)
    assert timings.oldest_pending_age() >= 0.05
    future.set_result(outcome(OutcomeStatus.DELIVERED))
    await asyncio.sleep(0)

    assert count(registry, "tt", "Photo") == 1
    latency = registry.get_sample_value(f"{LATENCY}_sum", {"instance": "tt", "trigger": "Photo"})
    assert latency is not None
    assert 2.0 <= latency < 10.0
    assert timings.oldest_pending_age() == 0.0
    assert registry.get_sample_value("claimx_oldest_pending_action_age_seconds") == 0.0


async def test_dead_lettered_failed_and_immediate_actions_are_not_timed() -> None:
    registry = CollectorRegistry()
    timings = ActionTimings(registry)
    loop = asyncio.get_running_loop()
    publish = PublishToTopic(topic="t", value={"trigger_name": "Damage"})
    dead: asyncio.Future[ActionOutcome] = loop.create_future()
    broken: asyncio.Future[ActionOutcome] = loop.create_future()
    logged: asyncio.Future[ActionOutcome] = loop.create_future()
    timings.track(dead, instance="tt", action=publish, event_timestamp_ms=0)
    timings.track(broken, instance="tt", action=publish, event_timestamp_ms=0)
    timings.track(logged, instance="tt", action=Log(message="m"), event_timestamp_ms=0)
    dead.set_result(outcome(OutcomeStatus.DEAD_LETTERED))
    broken.set_exception(RuntimeError("DLQ write failed"))
    logged.set_result(outcome(OutcomeStatus.DELIVERED))
    await asyncio.sleep(0)
    assert broken.exception() is not None

    assert count(registry, "tt", "Damage") == 0
    assert timings.oldest_pending_age() == 0.0


async def test_trigger_labels_are_bounded() -> None:
    registry = CollectorRegistry()
    timings = ActionTimings(registry)
    loop = asyncio.get_running_loop()
    now_ms = int(time.time() * 1000)
    for n in range(MAX_TRIGGER_SERIES + 5):
        future: asyncio.Future[ActionOutcome] = loop.create_future()
        action = PublishToTopic(topic="t", value={"trigger_name": f"trigger-{n}"})
        timings.track(future, instance="tt", action=action, event_timestamp_ms=now_ms)
        future.set_result(outcome(OutcomeStatus.DELIVERED))
    await asyncio.sleep(0)

    triggers = {
        sample.labels["trigger"]
        for family in registry.collect()
        if family.name == LATENCY
        for sample in family.samples
        if sample.name.endswith("_count")
    }
    assert len(triggers) == MAX_TRIGGER_SERIES + 1
    assert count(registry, "tt", OTHER_TRIGGER) == 5
