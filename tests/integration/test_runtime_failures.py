"""Failures on a real broker: poison messages to the DLQ, transient failures through every retry
delay, permanent failures and bugs to the DLQ at once; good events keep flowing."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from claimx_worker.errors import PermanentError, TransientError
from claimx_worker.kafka import FailedEvent, ProcessContext, Processor
from claimx_worker.model.event import ClaimXEvent, parse_event
from claimx_worker.observability.redaction import MASK, Redactor
from claimx_worker.testing.kafka import KafkaBroker, TopicFactory
from tests.integration.runtime_support import (
    committed,
    headers_of,
    kafka_settings,
    produce,
    read_topic,
    running,
    wait_for,
)

pytestmark = pytest.mark.kafka

ONE_MIB = 1024 * 1024


def claimx_event(index: int) -> bytes:
    return json.dumps(
        {
            "eventId": f"evt-{index}",
            "eventType": "PROJECT_CREATED",
            "projectId": str(1000 + index % 7),
            "ingestedAt": "2026-03-01T10:00:00Z",
        }
    ).encode()


POISON = {
    b"poison-json": b"{this is not json",
    b"poison-missing": json.dumps({"event_type": "PROJECT_CREATED", "project_id": "1"}).encode(),
    b"poison-types": json.dumps(
        {"event_id": "e", "event_type": "PROJECT_CREATED", "project_id": ["1", "2"]}
    ).encode(),
    b"poison-huge": bytes(range(256)) * (ONE_MIB // 256),
}


async def test_poison_messages_go_to_the_dlq_with_their_reason_while_good_events_pass(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    settings = kafka_settings(
        kafka_broker,
        kafka_topic_factory,
        partitions=1,
        pending_config={"max.message.bytes": str(4 * ONE_MIB)},
    )
    topics = settings.worker.topics
    records: list[tuple[bytes | None, bytes | None, list[tuple[str, str | bytes]] | None]] = []
    for index in range(40):
        records.append((b"good", claimx_event(index), None))
        if index % 10 == 5:
            poison = list(POISON)[index // 10]
            records.append((poison, POISON[poison], [("traceparent", b"00-trace-" + poison)]))
    produce(kafka_broker, topics.pending, records)
    poison_offsets = {key: offset for offset, (key, _, _) in enumerate(records) if key in POISON}

    failed: list[FailedEvent[ClaimXEvent]] = []

    async def process(event: ClaimXEvent, ctx: ProcessContext) -> None:
        ctx.produce(topics.enriched, event.event_id.encode(), ctx.key)

    async def on_failed(failure: FailedEvent[ClaimXEvent]) -> None:
        failed.append(failure)

    processor = Processor(decode=parse_event, process=process, on_failed=on_failed)
    async with running(settings, processor):
        await wait_for(lambda: len(failed) == len(POISON), "four dead letters")

    outputs = read_topic(kafka_broker, topics.enriched, 40, settle=0.5)
    assert sorted(m.value() or b"" for m in outputs) == sorted(
        f"evt-{i}".encode() for i in range(40)
    )

    dead = {
        m.key() or b"": m for m in read_topic(kafka_broker, topics.dlq, len(POISON), settle=0.5)
    }
    assert set(dead) == set(POISON)
    reasons = {key: headers_of(message)["claimx-error"] for key, message in dead.items()}
    assert reasons[b"poison-json"].startswith("not valid JSON")
    assert "event_id" in reasons[b"poison-missing"]
    assert "project_id" in reasons[b"poison-types"]
    for key, message in dead.items():
        headers = headers_of(message)
        assert headers["claimx-error-category"] == "invalid_event"
        assert headers["claimx-error-type"] == "InvalidEventError"
        assert headers["claimx-original-topic"] == topics.pending
        assert headers["claimx-original-partition"] == "0"
        assert headers["claimx-original-offset"] == str(poison_offsets[key])
        assert headers["claimx-attempts"] == "1"
        assert headers["traceparent"] == "00-trace-" + key.decode()
        assert "claimx-failed-at" in headers
        if key == b"poison-huge":  # larger than the DLQ topic takes: cut, size recorded
            assert headers["claimx-value-truncated"] == str(ONE_MIB)
            assert message.value() == POISON[key][: 64 * 1024]
        else:
            assert message.value() == POISON[key]
            assert "claimx-value-truncated" not in headers
    assert sorted(f.context.key or b"" for f in failed) == sorted(POISON)
    assert all(f.item is None and f.category == "invalid_event" for f in failed)
    assert committed(kafka_broker, settings.worker.consumer_group, topics.pending, 1) == {
        0: len(records)
    }


class Flaky:
    """Fails events by their ``mode``: ``twice`` (transient, then succeeds), ``always``
    (transient), ``permanent``, ``bug`` (a KeyError); ``ok`` succeeds."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.attempts: dict[str, list[tuple[int, float]]] = defaultdict(list)

    async def process(self, event: dict[str, Any], ctx: ProcessContext) -> None:
        name, mode = event["id"], event["mode"]
        self.attempts[name].append((ctx.attempt, time.time()))
        if mode == "twice" and ctx.attempt <= 2:
            raise TransientError(f"HTTP 503 for {name}")
        if mode == "always":
            raise TransientError(f"HTTP 503 for {name}")
        if mode == "permanent":
            raise PermanentError(f"HTTP 404 for {name}")
        if mode == "bug":
            raise KeyError("projectId")
        ctx.produce(self.output, name.encode(), ctx.key)


async def test_retries_use_every_delay_in_turn_then_the_dlq(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    settings = kafka_settings(
        kafka_broker, kafka_topic_factory, partitions=2, retry_delays=("1s", "2s")
    )
    topics = settings.worker.topics
    modes = {"a": "twice", "b": "always", "c": "permanent", "d": "bug", "e": "ok"}
    records: list[tuple[bytes | None, bytes | None, list[tuple[str, str | bytes]] | None]] = [
        (name.encode(), json.dumps({"id": name, "mode": mode}).encode(), None)
        for name, mode in modes.items()
    ]
    records += [
        (f"ok-{i}".encode(), json.dumps({"id": f"ok-{i}", "mode": "ok"}).encode(), None)
        for i in range(20)
    ]
    produce(kafka_broker, topics.pending, records)
    flaky = Flaky(topics.enriched)
    registry = CollectorRegistry()
    processor = Processor(decode=json.loads, process=flaky.process)
    paused: list[float] = []

    def finished() -> bool:  # also samples how many partitions wait for a due retry
        paused.append(registry.get_sample_value("claimx_partitions_paused") or 0.0)
        return runtime.metrics.processed["dlq"] == 3 and runtime.metrics.processed_ok == 22

    async with running(settings, processor, registry=registry) as runtime:
        await wait_for(finished, "three dead letters and every good event", within=30)
    assert max(paused) >= 1  # a retry partition was paused until its head was due

    def attempt_numbers(name: str) -> list[int]:
        return [number for number, _ in flaky.attempts[name]]

    assert attempt_numbers("a") == [1, 2, 3]  # failed twice, then succeeded
    assert attempt_numbers("b") == [1, 2, 3]  # the first try and one per delay, then the DLQ
    assert attempt_numbers("c") == [1]
    assert attempt_numbers("d") == [1]
    for name in ("a", "b"):
        (_, first), (_, second), (_, third) = flaky.attempts[name]
        assert second - first >= 0.95  # the 1s delay was honoured
        assert third - second >= 1.95  # then the 2s delay

    outputs = read_topic(kafka_broker, topics.enriched, 22, settle=0.5)
    assert Counter(m.value() for m in outputs) == Counter(
        [b"a", b"e", *(f"ok-{i}".encode() for i in range(20))]
    )
    retried = {
        delay: {
            m.key() or b"": headers_of(m) for m in read_topic(kafka_broker, topic, 2, settle=0.5)
        }
        for delay, topic in [
            ("1s", f"{topics.retry_prefix}.1s"),
            ("2s", f"{topics.retry_prefix}.2s"),
        ]
    }
    assert {delay: sorted(by_key) for delay, by_key in retried.items()} == {
        "1s": [b"a", b"b"],
        "2s": [b"a", b"b"],
    }
    assert retried["1s"][b"b"]["claimx-attempts"] == "1"
    assert retried["2s"][b"b"]["claimx-attempts"] == "2"
    assert retried["2s"][b"b"]["claimx-original-topic"] == topics.pending
    assert int(retried["2s"][b"b"]["claimx-due-ms"]) > int(retried["1s"][b"b"]["claimx-due-ms"])

    dead = {
        m.key() or b"": headers_of(m) for m in read_topic(kafka_broker, topics.dlq, 3, settle=0.5)
    }
    assert set(dead) == {b"b", b"c", b"d"}
    assert dead[b"b"]["claimx-error-category"] == "transient"
    assert dead[b"b"]["claimx-attempts"] == "3"
    assert dead[b"b"]["claimx-error"] == "HTTP 503 for b"
    assert dead[b"b"]["claimx-original-topic"] == topics.pending
    assert dead[b"c"]["claimx-error-category"] == "permanent"
    assert dead[b"c"]["claimx-attempts"] == "1"
    assert dead[b"d"]["claimx-error-category"] == "permanent"
    assert dead[b"d"]["claimx-error-type"] == "KeyError"

    assert dict(runtime.metrics.retries) == {"1s": 2, "2s": 2}
    assert dict(runtime.metrics.dlq_writes) == {
        (topics.dlq, "transient"): 1,
        (topics.dlq, "permanent"): 2,
    }
    scraped = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
    }
    assert scraped[("claimx_events_processed_total", (("outcome", "ok"),))] == 22
    assert scraped[("claimx_events_processed_total", (("outcome", "retry"),))] == 4
    assert scraped[("claimx_retries_total", (("delay", "2s"),))] == 2
    for topic, partitions in [
        (topics.pending, 2),
        (f"{topics.retry_prefix}.1s", 3),
        (f"{topics.retry_prefix}.2s", 3),
    ]:
        offsets = committed(kafka_broker, settings.worker.consumer_group, topic, partitions)
        assert sum(offsets.values()) == {topics.pending: 25}.get(topic, 2)


async def test_work_abandoned_at_the_drain_deadline_is_redelivered_not_retried(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    """Deferred work cancelled at shutdown (after the final commit) must not send its event to a
    retry topic too: the event is uncommitted and comes back from the input topic."""
    settings = kafka_settings(
        kafka_broker, kafka_topic_factory, partitions=1, drain_deadline_seconds=0.5
    )
    topics = settings.worker.topics
    started: list[str] = []
    stuck: list[asyncio.Future[None]] = []

    async def process(event: ClaimXEvent, ctx: ProcessContext) -> None:
        started.append(event.event_id)
        future = asyncio.get_running_loop().create_future()
        stuck.append(future)
        ctx.defer(future)

    async def cancel_stuck_work() -> None:  # as the pipeline's executor.aclose() does
        for future in stuck:
            future.cancel()

    processor = Processor(decode=parse_event, process=process, on_stop=cancel_stuck_work)
    produce(kafka_broker, topics.pending, [(b"k", claimx_event(1), None)])

    async with running(settings, processor):
        await wait_for(lambda: started == ["evt-1"], "the event to start")

    retried = read_topic(kafka_broker, f"{topics.retry_prefix}.1m", count=1, timeout=3)
    assert retried == []
    assert committed(kafka_broker, settings.worker.consumer_group, topics.pending, 1) == {}


async def test_error_messages_in_dlq_records_and_on_failed_have_secrets_masked(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    secret = "tok-5ecret-0123456789"
    settings = kafka_settings(kafka_broker, kafka_topic_factory, partitions=1)
    topics = settings.worker.topics
    produce(kafka_broker, topics.pending, [(b"bug", b"{}", None)])
    failed: list[FailedEvent[bytes]] = []

    async def process(value: bytes, ctx: ProcessContext) -> None:
        raise RuntimeError(f"request to https://api.example.com/?token={secret} failed")

    async def on_failed(event: FailedEvent[bytes]) -> None:
        failed.append(event)

    processor = Processor(decode=bytes, process=process, on_failed=on_failed)
    async with running(settings, processor, redactor=Redactor([secret])) as runtime:
        await wait_for(lambda: runtime.metrics.processed["dlq"] == 1, "the dead letter")
    (record,) = read_topic(kafka_broker, topics.dlq, 1)
    assert headers_of(record)["claimx-error"] == (
        f"request to https://api.example.com/?token={MASK} failed"
    )
    assert [event.message for event in failed] == [headers_of(record)["claimx-error"]]
