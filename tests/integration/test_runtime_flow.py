"""Flow control and startup checks on a real broker: backpressure pauses and resumes partitions;
missing topics stop the worker with their names unless it may create them."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import attrs
import pytest
from prometheus_client import CollectorRegistry

from claimx_worker.kafka import (
    KafkaRuntime,
    KafkaRuntimeError,
    MissingTopicsError,
    ProcessContext,
    Processor,
)
from claimx_worker.kafka.settings import KafkaSettings
from claimx_worker.testing.kafka import KafkaBroker, TopicFactory
from tests.integration.runtime_support import kafka_settings, produce, running, wait_for

pytestmark = pytest.mark.kafka


def gauge(registry: CollectorRegistry, name: str) -> float:
    value = registry.get_sample_value(name)
    assert value is not None, name
    return value


def bounded(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory, *, events: int
) -> KafkaSettings:
    """Settings bounded at 20 events in flight (resuming at 5, batches of 10), 3 partitions,
    with ``events`` records waiting on the input topic."""
    settings = kafka_settings(
        kafka_broker,
        kafka_topic_factory,
        partitions=3,
        max_in_flight=20,
        low_water_mark=5,
        batch_size=10,
    )
    records = [(f"k{i}".encode(), b"x", None) for i in range(events)]
    produce(kafka_broker, settings.worker.topics.pending, records)
    return settings


async def test_backpressure_pauses_every_partition_and_resumes_at_the_low_water_mark(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    settings = bounded(kafka_broker, kafka_topic_factory, events=300)
    topics = settings.worker.topics
    gate = asyncio.Event()
    started = 0
    done = 0

    async def process(value: bytes, ctx: ProcessContext) -> None:
        nonlocal started, done
        started += 1
        await gate.wait()
        ctx.produce(topics.enriched, value, ctx.key)
        done += 1

    registry = CollectorRegistry()
    async with running(settings, Processor(decode=bytes, process=process), registry=registry):
        await wait_for(lambda: gauge(registry, "claimx_partitions_assigned") == 6, "assignment")
        # Stalled at the bound: every assigned partition (input and retry) gets paused.
        await wait_for(lambda: gauge(registry, "claimx_partitions_paused") == 6, "the pause")
        stalled_at = started
        assert 20 <= stalled_at <= 20 + 2 * 10  # the bound, overshot by at most two batches
        assert gauge(registry, "claimx_events_in_flight") == stalled_at
        await asyncio.sleep(0.5)
        assert started == stalled_at  # nothing more fetched while paused
        gate.set()
        await wait_for(lambda: done == 300, "every event after resuming", within=60)
        assert gauge(registry, "claimx_partitions_paused") == 0


async def test_backpressure_that_drains_steadily_pauses_nothing(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    # Each wait for room takes about 0.9 s (15 events, one every 60 ms): past the half second
    # that pauses a stalled worker, but events keep finishing, so nothing is paused (a pause
    # drops the prefetched records, refetched on resume).
    settings = bounded(kafka_broker, kafka_topic_factory, events=60)
    topics = settings.worker.topics
    one_at_a_time = asyncio.Lock()
    done = 0
    paused: set[float] = set()

    async def process(value: bytes, ctx: ProcessContext) -> None:
        nonlocal done
        async with one_at_a_time:
            await asyncio.sleep(0.06)
        ctx.produce(topics.enriched, value, ctx.key)
        done += 1

    registry = CollectorRegistry()
    async with running(settings, Processor(decode=bytes, process=process), registry=registry):

        async def watch() -> None:
            while True:
                paused.add(gauge(registry, "claimx_partitions_paused"))
                await asyncio.sleep(0.02)

        watcher = asyncio.create_task(watch())
        await wait_for(lambda: done == 60, "every event", within=60)
        watcher.cancel()
    assert paused == {0.0}


async def test_missing_topics_are_named_and_nothing_is_consumed(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    settings = kafka_settings(kafka_broker, kafka_topic_factory, create=False)
    kafka_topic_factory(2, name=settings.worker.topics.pending)

    async def process(value: bytes, ctx: ProcessContext) -> None:
        raise AssertionError("nothing may be consumed")

    topics = settings.worker.topics
    plugin_topic = f"{topics.pending}.plugin-out"  # e.g. a task trigger's publish_to_topic
    processor = Processor(
        decode=bytes, process=process, output_topics=(plugin_topic, topics.pending)
    )
    runtime = KafkaRuntime(settings, processor, registry=CollectorRegistry())
    with pytest.raises(MissingTopicsError) as caught:
        await asyncio.wait_for(runtime.run(), 30)
    expected = sorted(
        [
            f"{topics.retry_prefix}.1m",
            topics.enriched,
            topics.downloads,
            topics.dlq,
            topics.actions_dlq,
            plugin_topic,
        ]
    )
    assert caught.value.topics == expected
    for name in expected:
        assert name in str(caught.value)
    assert "kafka.create_topics" in str(caught.value)


async def test_create_topics_creates_the_missing_ones(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    settings = kafka_settings(kafka_broker, kafka_topic_factory, create=False)
    settings = attrs.evolve(settings, create_topics=True, topic_partitions=4)
    registry = CollectorRegistry()
    plugin_topic = f"{settings.worker.topics.pending}.plugin-out"
    processor = Processor(decode=bytes, process=_noop, output_topics=(plugin_topic,))
    async with running(settings, processor, registry=registry) as runtime:
        kafka_topic_factory.created.extend(runtime.topics)  # deleted after the test
        await wait_for(lambda: gauge(registry, "claimx_partitions_assigned") == 8, "assignment")
    metadata = kafka_broker.admin().list_topics(timeout=10).topics
    assert len(runtime.topics) == 7
    assert plugin_topic in runtime.topics
    for name in runtime.topics:
        assert len(metadata[name].partitions) == 4


async def _noop(value: bytes, ctx: ProcessContext) -> None:
    return None


async def test_an_unreachable_cluster_is_a_clear_runtime_error(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    settings = kafka_settings(kafka_broker, kafka_topic_factory, create=False)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = attrs.evolve(settings, bootstrap_servers=f"127.0.0.1:{port}")
    runtime: KafkaRuntime[bytes] = KafkaRuntime(
        settings,
        Processor(decode=bytes, process=_noop),
        registry=CollectorRegistry(),
        startup_timeout=2.0,
    )
    with pytest.raises(KafkaRuntimeError, match=f"cannot reach Kafka at 127.0.0.1:{port}"):
        await asyncio.wait_for(runtime.run(), 30)


@pytest.mark.parametrize("section", ["common", "consumer", "producer"])
async def test_an_unknown_librdkafka_property_is_a_clear_runtime_error(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory, section: str
) -> None:
    settings = kafka_settings(kafka_broker, kafka_topic_factory)
    changes: dict[str, Any] = {section: {"fetch.max.wayt.ms": 10}}
    settings = attrs.evolve(settings, **changes)
    runtime: KafkaRuntime[bytes] = KafkaRuntime(
        settings, Processor(decode=bytes, process=_noop), registry=CollectorRegistry()
    )
    with pytest.raises(KafkaRuntimeError, match=r"invalid Kafka client settings: .*wayt"):
        await asyncio.wait_for(runtime.run(), 30)
