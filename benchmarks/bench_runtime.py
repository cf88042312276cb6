"""Kafka runtime throughput against a hand-written confluent-kafka loop on the same broker.

Starts a local broker (``claimx_worker.testing.kafka``, or ``KAFKA_BOOTSTRAP_SERVERS``), fills an
input topic (6 partitions, 1,000 project keys, ~200-byte JSON events with one header), then:

- ``baseline``: a minimal at-least-once loop: ``consume(500)``, produce each record (with its
  headers) to an output topic, ``poll(0)``; every second ``flush()`` then a synchronous commit.
- ``runtime_passthrough``: the runtime as ``claimx-worker run`` runs it
  (:func:`~claimx_worker.kafka.run_worker`, stopped by SIGTERM) with a no-op processing
  coroutine that produces one output message per event (value, key and a header).
- ``runtime_latency_20ms``: the same coroutine awaiting ``asyncio.sleep(0.02)`` first (an API
  call's latency); only concurrency beyond the partition count gets past 300 events/s here.

Each run uses its own consumer group and counts from start (group join included) until every
event was processed and acknowledged and offsets were committed. Prints one JSON list.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any, cast

from confluent_kafka import Consumer, Producer
from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker.kafka import ProcessContext, Processor, run_worker
from claimx_worker.kafka.settings import (
    ClaimXKafkaSettings,
    EnrichmentWorkerSettings,
    KafkaSettings,
    ProcessingSettings,
    TopicSettings,
)
from claimx_worker.testing.kafka import KafkaBroker, open_kafka_broker

PARTITIONS = 6
KEYS = 1000
PASSTHROUGH_EVENTS = 150_000
LATENCY_EVENTS = 20_000
LATENCY_SECONDS = 0.02
TARGET_RATIO = 0.5
TARGET_LATENCY_EVENTS_PER_S = 2000.0


def _event(index: int) -> bytes:
    project = index % KEYS
    return json.dumps(
        {
            "event_id": f"evt-{index:09d}",
            "event_type": "CUSTOM_TASK_COMPLETED",
            "project_id": str(100_000 + project),
            "task_assignment_id": str(5_000_000 + index),
            "ingested_at": "2026-01-01T00:00:00Z",
        }
    ).encode()


def fill(broker: KafkaBroker, topic: str, count: int) -> None:
    """Produce ``count`` events to ``topic``."""
    producer = Producer(broker.client_config({"linger.ms": 20, "batch.size": 1_000_000}))
    for index in range(count):
        while True:
            try:
                producer.produce(
                    topic,
                    _event(index),
                    str(100_000 + index % KEYS).encode(),
                    headers=[("source", b"bench")],
                )
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)


def warm_up(broker: KafkaBroker, topic: str) -> None:
    """Join a group and commit once, so that neither measurement pays for the broker's first
    group coordinator load and offsets-topic creation."""
    consumer = Consumer(
        broker.client_config(
            {
                "group.id": f"bench-warm-up-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
    )
    consumer.subscribe([topic])
    deadline = time.monotonic() + 60
    while not consumer.consume(1, 0.5):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no record from {topic} within 60 s")
    consumer.commit(asynchronous=False)
    consumer.close()


def baseline(broker: KafkaBroker, source: str, sink: str, count: int) -> tuple[float, float]:
    """Events/s and CPU µs/event of the hand-written consume → produce → commit loop."""
    consumer = Consumer(
        broker.client_config(
            {
                "group.id": f"bench-baseline-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
    )
    producer = Producer(broker.client_config({"linger.ms": 5, "enable.idempotence": True}))
    started, cpu = time.perf_counter(), time.process_time()
    consumer.subscribe([source])
    done = 0
    next_commit = started + 1.0
    while done < count:
        messages = consumer.consume(500, 0.1)
        for message in messages:
            headers = cast("list[tuple[str, str | bytes]] | None", message.headers())
            while True:
                try:
                    producer.produce(sink, message.value(), message.key(), headers=headers)
                    break
                except BufferError:
                    producer.poll(0.01)
        producer.poll(0)
        done += len(messages)
        if done and time.perf_counter() >= next_commit:
            producer.flush()
            consumer.commit(asynchronous=False)
            next_commit = time.perf_counter() + 1.0
    producer.flush()
    consumer.commit(asynchronous=False)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    consumer.close()
    return count / elapsed, cpu / count * 1e6


def _settings(broker: KafkaBroker, source: str, sink: str) -> KafkaSettings:
    prefix = f"bench.{uuid.uuid4().hex[:8]}"
    topics = TopicSettings(
        pending=source,
        enriched=sink,
        downloads=sink,
        retry_prefix=f"{prefix}.retry",
        dlq=f"{prefix}.dlq",
        actions_dlq=f"{prefix}.dlq",
    )
    worker = EnrichmentWorkerSettings(
        consumer_group=f"bench-runtime-{uuid.uuid4().hex[:8]}",
        topics=topics,
        processing=ProcessingSettings(retry_delays=("1m",), commit_interval_seconds=1.0),
    )
    return KafkaSettings(
        bootstrap_servers=broker.bootstrap_servers,
        create_topics=True,
        topic_partitions=1,
        claimx=ClaimXKafkaSettings(enrichment_worker=worker),
    )


async def _run_runtime(
    settings: KafkaSettings, sink: str, count: int, latency: float
) -> tuple[float, float]:
    processed = 0

    async def process(value: bytes, ctx: ProcessContext) -> None:
        nonlocal processed
        if latency:
            await asyncio.sleep(latency)
        ctx.produce(sink, value, ctx.key, [("source", b"bench")])
        processed += 1
        if processed == count:
            os.kill(os.getpid(), signal.SIGTERM)  # drain, commit, flush and return

    processor = Processor(decode=bytes, process=process)
    started, cpu = time.perf_counter(), time.process_time()
    await run_worker(settings, processor, registry=CollectorRegistry())
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return count / elapsed, cpu / count * 1e6


def runtime_rate(
    broker: KafkaBroker, source: str, sink: str, count: int, latency: float
) -> tuple[float, float]:
    """Events/s and CPU µs/event through the runtime (``latency`` seconds awaited per event)."""
    return asyncio.run(_run_runtime(_settings(broker, source, sink), sink, count, latency))


@contextlib.contextmanager
def _broker() -> Iterator[KafkaBroker]:
    with open_kafka_broker() as broker:
        yield broker


def main() -> None:
    """Run the three measurements and print the JSON results."""
    logger.remove()
    logger.add(sys.stderr, level=os.environ.get("LOG_LEVEL", "WARNING"))
    with _broker() as broker:
        run = uuid.uuid4().hex[:8]
        source, sink = f"bench.{run}.in", f"bench.{run}.out"
        latency_source = f"bench.{run}.in20"
        broker.create_topics([source, latency_source], partitions=PARTITIONS)
        broker.create_topics(sink, partitions=PARTITIONS)
        fill(broker, source, PASSTHROUGH_EVENTS)
        fill(broker, latency_source, LATENCY_EVENTS)
        warm_up(broker, latency_source)
        base, base_cpu = baseline(broker, source, sink, PASSTHROUGH_EVENTS)
        passthrough, passthrough_cpu = runtime_rate(broker, source, sink, PASSTHROUGH_EVENTS, 0.0)
        latency, latency_cpu = runtime_rate(
            broker, latency_source, sink, LATENCY_EVENTS, LATENCY_SECONDS
        )
        broker.delete_topics([source, latency_source, sink])
    results: list[dict[str, Any]] = [
        {
            "name": "runtime_passthrough",
            "value": round(passthrough, 1),
            "unit": "events/s",
            "baseline": round(base, 1),
            "ratio": round(passthrough / base, 3),
            "target_ratio": TARGET_RATIO,
            "cpu_us_per_event": round(passthrough_cpu, 1),
            "baseline_cpu_us_per_event": round(base_cpu, 1),
            "events": PASSTHROUGH_EVENTS,
            "partitions": PARTITIONS,
        },
        {
            "name": "runtime_latency_20ms",
            "value": round(latency, 1),
            "unit": "events/s",
            "target": TARGET_LATENCY_EVENTS_PER_S,
            "cpu_us_per_event": round(latency_cpu, 1),
            "events": LATENCY_EVENTS,
            "partitions": PARTITIONS,
            "max_in_flight": ProcessingSettings().max_in_flight,
        },
    ]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
