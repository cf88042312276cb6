"""Consumer lag on a real broker: while processing is held and the partitions are paused, the lag
grows with every record produced and the oldest uncommitted event ages; once it resumes, both
fall back to zero. Read as Prometheus scrapes them and from the runtime's snapshot."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry

from claimx_worker.kafka import ProcessContext, Processor
from claimx_worker.testing.kafka import KafkaBroker, TopicFactory
from tests.integration.runtime_support import kafka_settings, produce, running, wait_for

pytestmark = pytest.mark.kafka


def total(registry: CollectorRegistry, name: str, topic: str) -> float:
    """The sum of ``name`` over the partitions of ``topic``."""
    return sum(
        sample.value
        for family in registry.collect()
        if family.name == name
        for sample in family.samples
        if sample.labels.get("topic") == topic
    )


async def test_lag_grows_while_paused_and_falls_to_zero_after_resuming(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    settings = kafka_settings(
        kafka_broker,
        kafka_topic_factory,
        partitions=2,
        max_in_flight=10,
        low_water_mark=2,
        batch_size=5,
        lag_interval_seconds=0.2,
    )
    pending = settings.worker.topics.pending
    gate = asyncio.Event()

    async def process(value: bytes, ctx: ProcessContext) -> None:
        await gate.wait()

    registry = CollectorRegistry()
    lag, age = "claimx_consumer_lag", "claimx_oldest_uncommitted_event_age_seconds"
    async with running(
        settings, Processor(decode=bytes, process=process), registry=registry
    ) as runtime:
        await wait_for(
            lambda: total(registry, lag, pending) == 0 and runtime.lag().partitions,
            "a first sample",
        )
        produce(kafka_broker, pending, [(f"k{i}".encode(), b"x", None) for i in range(30)])
        await wait_for(
            lambda: (
                registry.get_sample_value("claimx_partitions_paused")
                == registry.get_sample_value("claimx_partitions_assigned")
            ),
            "every partition paused",
        )
        await wait_for(lambda: total(registry, lag, pending) == 30, "lag of every record")
        produce(kafka_broker, pending, [(f"k{i}".encode(), b"x", None) for i in range(20)])
        await wait_for(
            lambda: total(registry, lag, pending) == 50, "lag growing while paused", within=10
        )
        held = total(registry, age, pending)
        await asyncio.sleep(1.0)
        await wait_for(lambda: total(registry, age, pending) >= held + 1.0, "the wait growing")

        snapshot = runtime.lag()
        assert time.time() - snapshot.sampled_at < 5
        mine = [p for p in snapshot.partitions if p.topic == pending]
        assert sorted(p.partition for p in mine) == [0, 1]
        assert sum(p.high_watermark for p in mine) == 50
        assert sum(p.lag for p in mine) == 50
        status = [p for p in runtime.partitions() if p["topic"] == pending]  # as /status shows
        assert [(p["partition"], p["paused"], p["lag"]) for p in status] == [
            (p.partition, True, p.lag) for p in sorted(mine, key=lambda p: p.partition)
        ]

        gate.set()
        await wait_for(lambda: total(registry, lag, pending) == 0, "lag back to 0", within=30)
        await wait_for(lambda: total(registry, age, pending) == 0, "no event waiting")
        assert registry.get_sample_value("claimx_partitions_paused") == 0
        assert sum(p.committed or 0 for p in runtime.lag().partitions if p.topic == pending) == 50
