"""Test support for the Kafka runtime: topics and settings per test, producing, reading back,
running a runtime in-process, and a processor for ``claimx-worker run`` subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, Message, Producer, TopicPartition
from prometheus_client import CollectorRegistry

from claimx_worker.kafka import CommittedOffset, KafkaRuntime, ProcessContext, Processor
from claimx_worker.kafka.settings import (
    ClaimXKafkaSettings,
    EnrichmentWorkerSettings,
    KafkaSettings,
    ProcessingSettings,
    TopicSettings,
)
from claimx_worker.observability.redaction import Redactor
from claimx_worker.settings import WorkerSettings
from claimx_worker.testing.kafka import KafkaBroker, TopicFactory

Record = tuple[bytes | None, bytes | None, list[tuple[str, str | bytes]] | None]
"""(key, value, headers) of a record to produce."""

DELAY_ENV = "RUNTIME_TEST_DELAY_MS"
WORKER_ENV = "RUNTIME_TEST_WORKER"


def kafka_settings(
    broker: KafkaBroker,
    topic_factory: TopicFactory,
    *,
    partitions: int = 6,
    retry_delays: Sequence[str] = ("1m",),
    create: bool = True,
    pending_config: Mapping[str, str] | None = None,
    **processing: Any,
) -> KafkaSettings:
    """Settings with fresh topic names (created unless ``create`` is false) and a fresh group;
    ``pending_config`` holds topic settings of the input topic."""
    prefix = f"rt.{uuid.uuid4().hex[:10]}"
    topics = TopicSettings(
        pending=f"{prefix}.pending",
        enriched=f"{prefix}.enriched",
        downloads=f"{prefix}.downloads",
        retry_prefix=f"{prefix}.retry",
        dlq=f"{prefix}.dlq",
        actions_dlq=f"{prefix}.actions-dlq",
    )
    processing.setdefault("commit_interval_seconds", 0.2)
    processing.setdefault("drain_deadline_seconds", 10.0)
    worker = EnrichmentWorkerSettings(
        consumer_group=f"{prefix}.group",
        topics=topics,
        processing=ProcessingSettings(retry_delays=tuple(retry_delays), **processing),
    )
    settings = KafkaSettings(
        bootstrap_servers=broker.bootstrap_servers,
        claimx=ClaimXKafkaSettings(enrichment_worker=worker),
    )
    if create:
        topic_factory(partitions, name=topics.pending, config=pending_config)
        for name in [*worker.retry_topics(), topics.enriched, topics.downloads]:
            topic_factory(3, name=name)
        topic_factory(1, name=topics.dlq)
        topic_factory(1, name=topics.actions_dlq)
    return settings


def produce(broker: KafkaBroker, topic: str, records: Iterable[Record]) -> None:
    """Produce records and wait until every one is acknowledged."""
    errors: list[str] = []

    def delivered(error: Any, _: Any) -> None:
        if error is not None:
            errors.append(str(error))

    producer = Producer(broker.client_config({"linger.ms": 5, "message.max.bytes": 4_000_000}))
    for key, value, headers in records:
        while True:
            try:
                producer.produce(topic, value, key, headers=headers, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(30) == 0
    assert errors == []


def read_topic(
    broker: KafkaBroker,
    topic: str,
    count: int,
    timeout: float = 30.0,
    settle: float = 0.0,
    values: set[bytes] | None = None,
) -> list[Message]:
    """Read ``topic`` from the start until ``count`` records (and, if given, every one of
    ``values``) arrived, then ``settle`` seconds more; or until ``timeout``."""
    consumer = Consumer(
        broker.client_config(
            {
                "group.id": f"reader.{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
    )
    consumer.subscribe([topic])
    received: list[Message] = []
    missing = set(values or ())
    deadline = time.monotonic() + timeout
    settle_until: float | None = None
    try:
        while time.monotonic() < deadline:
            if len(received) >= count and not missing:
                settle_until = settle_until or time.monotonic() + settle
                if time.monotonic() >= settle_until:
                    break
            for message in consumer.consume(500, 0.2):
                assert message.error() is None, message.error()
                received.append(message)
                missing.discard(message.value() or b"")
    finally:
        consumer.close()
    return received


def committed(broker: KafkaBroker, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offsets of ``topic`` (partitions without a commit left out)."""
    consumer = Consumer(broker.client_config({"group.id": group}))
    try:
        offsets = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=10
        )
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in offsets if tp.offset >= 0}


@contextlib.asynccontextmanager
async def running(
    settings: KafkaSettings,
    processor: Processor[Any],
    on_commit: Callable[[Sequence[CommittedOffset]], None] | None = None,
    registry: CollectorRegistry | None = None,
    redactor: Redactor | None = None,
) -> AsyncIterator[KafkaRuntime[Any]]:
    """Run a runtime in a task; on exit stop it and wait until it has drained and committed."""
    runtime = KafkaRuntime(
        settings,
        processor,
        registry=registry or CollectorRegistry(),
        on_commit=on_commit,
        redactor=redactor,
    )
    task = asyncio.create_task(runtime.run())
    try:
        yield runtime
    finally:
        runtime.stop()
        await asyncio.wait_for(task, 60)


async def wait_for(condition: Callable[[], bool], what: str, within: float = 30.0) -> None:
    """Poll ``condition()`` until true; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(0.02)


def headers_of(message: Message) -> dict[str, str]:
    """A record's headers as text (the last value of each name)."""
    return {k: (v or b"").decode("utf-8", "replace") for k, v in message.headers() or ()}


def make_processor(settings: WorkerSettings) -> Processor[bytes]:
    """``--processor`` factory for worker subprocesses: copy each event to the enriched topic,
    tagged with ``$RUNTIME_TEST_WORKER``, after ``$RUNTIME_TEST_DELAY_MS`` milliseconds."""
    output = settings.kafka.worker.topics.enriched
    delay = float(os.environ.get(DELAY_ENV, "0")) / 1000
    worker = os.environ.get(WORKER_ENV, "worker").encode()

    async def process(value: bytes, ctx: ProcessContext) -> None:
        if delay:
            await asyncio.sleep(delay)
        source = f"{ctx.partition}:{ctx.offset}".encode()
        ctx.produce(output, value, ctx.key, [("worker", worker), ("source", source)])

    return Processor(decode=bytes, process=process)
