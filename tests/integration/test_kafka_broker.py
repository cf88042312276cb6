"""The local Kafka broker of ``claimx_worker.testing.kafka`` against real clients."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from claimx_worker.testing.kafka import (
    KafkaBroker,
    KafkaBrokerError,
    KafkaJars,
    LocalKafkaBroker,
    TopicFactory,
    TopicSpec,
)


def _produce(broker: KafkaBroker, topic: str, numbers: range) -> None:
    errors: list[str] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    producer = Producer(broker.client_config({"linger.ms": 5, "enable.idempotence": True}))
    for n in numbers:
        producer.produce(topic, key=f"key-{n % 50}", value=str(n), on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(15) == 0
    assert errors == []


def _consume(consumer: Any, topic: str, expected: int, settle: float = 0.0) -> list[Any]:
    """Consume until ``expected`` messages arrived, committing each batch explicitly."""
    received: list[Any] = []
    deadline = time.monotonic() + 30
    settle_until: float | None = None
    while time.monotonic() < deadline:
        if len(received) >= expected:
            if settle_until is None:
                settle_until = time.monotonic() + settle
            if time.monotonic() >= settle_until:
                break
        batch = consumer.consume(num_messages=500, timeout=0.2)
        for message in batch:
            assert message.error() is None, message.error()
        received.extend(batch)
        ends: dict[int, int] = {}
        for message in batch:
            ends[message.partition()] = max(ends.get(message.partition(), -1), message.offset())
        if ends:
            offsets = [TopicPartition(topic, p, end + 1) for p, end in sorted(ends.items())]
            consumer.commit(offsets=offsets, asynchronous=False)
    return received


def _consumer(broker: KafkaBroker, group: str) -> Any:
    return Consumer(
        broker.client_config(
            {
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
    )


@pytest.mark.kafka
def test_consumer_group_resumes_from_committed_offsets(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    topic = kafka_topic_factory(partitions=3)
    group = f"test-group-{uuid.uuid4().hex[:8]}"
    _produce(kafka_broker, topic, range(1000))

    consumer = _consumer(kafka_broker, group)
    try:
        consumer.subscribe([topic])
        first = _consume(consumer, topic, expected=1000)
        partitions = [TopicPartition(topic, p) for p in range(3)]
        committed = consumer.committed(partitions, timeout=10)
        ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in partitions]
    finally:
        consumer.close()

    assert sorted(int(m.value()) for m in first) == list(range(1000))
    assert {m.partition() for m in first} == {0, 1, 2}
    by_key: defaultdict[bytes, list[int]] = defaultdict(list)
    for message in first:
        by_key[message.key()].append(int(message.value()))
    assert len(by_key) == 50
    assert all(values == sorted(values) for values in by_key.values())  # per-key order kept
    assert [tp.offset for tp in committed] == ends
    assert sum(ends) == 1000

    resumed = _consumer(kafka_broker, group)
    try:
        resumed.subscribe([topic])
        _produce(kafka_broker, topic, range(1000, 1100))
        second = _consume(resumed, topic, expected=100, settle=1.0)
    finally:
        resumed.close()

    assert sorted(int(m.value()) for m in second) == list(range(1000, 1100))


@pytest.mark.kafka
def test_topic_factory_names_are_unique_and_partitioned(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory, kafka_topic: str
) -> None:
    other = kafka_topic_factory(partitions=2)
    metadata = kafka_broker.admin().list_topics(timeout=10)
    assert kafka_topic != other
    assert len(metadata.topics[kafka_topic].partitions) == 1
    assert len(metadata.topics[other].partitions) == 2
    with pytest.raises(KafkaBrokerError, match="already exists"):
        kafka_broker.create_topics(other)
    assert kafka_broker.create_topics(other, exist_ok=True) == [other]


@pytest.mark.kafka
def test_jar_cache_is_reused_without_maven(tmp_path: Path) -> None:
    KafkaJars().resolve()  # a no-op when the session's broker already resolved them
    cached = KafkaJars(mvn=str(tmp_path / "no-such-mvn"))  # resolve() would fail if it ran mvn
    assert cached.is_resolved()
    started = time.monotonic()
    libs = cached.resolve()
    assert time.monotonic() - started < 1.0
    assert (libs / f"kafka_2.13-{cached.version}.jar").is_file()
    assert cached.marker_path.is_file()
    assert (cached.root / "pom.xml").is_file()


@pytest.mark.kafka
def test_start_failure_reports_the_broker_log() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        broker = LocalKafkaBroker(port=taken.getsockname()[1], startup_timeout=60)
        with pytest.raises(KafkaBrokerError, match="Address already in use"):
            broker.start()
    assert not broker.is_running
    assert broker.data_dir is not None
    assert not broker.data_dir.exists()


@pytest.mark.kafka
def test_cli_runs_until_sigterm() -> None:
    topic = f"cli.{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(
        [sys.executable, "-m", "claimx_worker.testing.kafka", "--create-topic", f"{topic}:2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        match = re.fullmatch(r"KAFKA_BOOTSTRAP_SERVERS=(127\.0\.0\.1:\d+)", line)
        assert match, line
        broker = KafkaBroker(match.group(1))
        assert len(broker.admin().list_topics(timeout=10).topics[topic].partitions) == 2
        del broker
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0
        assert stderr.splitlines() == [  # the worker's log format
            f"INFO: Topic ready | topic={topic}",
            f"INFO: Kafka is running; stop with Ctrl-C or SIGTERM | bootstrap_servers={match[1]}",
            "INFO: Kafka broker stopped",
        ]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_topic_spec_parse() -> None:
    assert TopicSpec.parse("claimx.enriched") == TopicSpec("claimx.enriched")
    assert TopicSpec.parse("claimx.enriched:3") == TopicSpec("claimx.enriched", 3)
    for bad in ("", ":3", "a:0", "a:x", "bad name:1"):
        with pytest.raises(ValueError, match=r"not a valid|must be"):
            TopicSpec.parse(bad)


def test_missing_tools_are_reported(tmp_path: Path) -> None:
    with pytest.raises(KafkaBrokerError, match=r"Maven .* is not on PATH"):
        KafkaJars(cache_dir=tmp_path, mvn=str(tmp_path / "no-such-mvn")).resolve()
    with pytest.raises(KafkaBrokerError, match=r"java .* not found"):
        LocalKafkaBroker(java=str(tmp_path / "no-such-java")).start()


def test_fixture_fails_instead_of_skipping(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        """
        def test_needs_kafka(kafka_broker):
            pass
        """
    )
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(pytester.path / "no-bin"))  # no java here
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "claimx_worker.testing")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*Kafka broker unavailable: java*not found*"])
