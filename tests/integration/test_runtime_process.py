"""``claimx-worker run`` processes on a real broker: SIGKILL and restart lose nothing; two workers
share a group and a stopping one hands its partitions over; signals and missing topics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from claimx_worker.kafka.settings import KafkaSettings
from claimx_worker.testing.kafka import KafkaBroker, TopicFactory
from tests.integration.runtime_support import (
    DELAY_ENV,
    WORKER_ENV,
    headers_of,
    kafka_settings,
    produce,
    read_topic,
)

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]
PROCESSOR = "tests.integration.runtime_support:make_processor"


def write_config(path: Path, settings: KafkaSettings, *, max_in_flight: int) -> Path:
    worker = settings.worker
    topics = worker.topics
    path.write_text(
        f"""\
kafka:
  bootstrap_servers: {settings.bootstrap_servers}
  consumer:  # a killed worker leaves the group after 6 s instead of 45 s
    session.timeout.ms: 6000
    heartbeat.interval.ms: 1000
  claimx:
    enrichment_worker:
      consumer_group: {worker.consumer_group}
      topics:
        pending: {topics.pending}
        enriched: {topics.enriched}
        downloads: {topics.downloads}
        retry_prefix: {topics.retry_prefix}
        dlq: {topics.dlq}
        actions_dlq: {topics.actions_dlq}
      processing:
        plugins_dir: ""
        max_in_flight: {max_in_flight}
        batch_size: 10
        commit_interval_seconds: 0.3
        drain_deadline_seconds: 20
        retry_delays: [{", ".join(worker.processing.retry_delays)}]
metrics:
  port: 0  # any free port: workers run side by side
""",
        encoding="utf-8",
    )
    return path


class Worker:
    """A ``claimx-worker run`` subprocess; its log goes to a file."""

    def __init__(self, config: Path, name: str, delay_ms: int) -> None:
        self.name = name
        self.log_path = config.with_name(f"{name}.log")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
            DELAY_ENV: str(delay_ms),
            WORKER_ENV: name,
            "LOG_LEVEL": "INFO",
        }
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # the config file names the broker
        executable = Path(sys.executable).with_name("claimx-worker")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(executable), "run", "--config", str(config), "--processor", PROCESSOR],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
            )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.log().count(text) < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {text!r} (x{count}) in:\n{self.log()}")
            time.sleep(0.05)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Started workers, killed after the test if still running."""
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()


def events(start: int, stop: int) -> list[tuple[bytes, bytes, None]]:
    return [(f"project-{i % 97}".encode(), f"event-{i}".encode(), None) for i in range(start, stop)]


def count_outputs(broker: KafkaBroker, topic: str, at_least: int) -> int:
    return len(read_topic(broker, topic, at_least, timeout=0.5))


def test_sigkill_mid_stream_then_restart_loses_nothing(
    kafka_broker: KafkaBroker,
    kafka_topic_factory: TopicFactory,
    tmp_path: Path,
    workers: list[Worker],
) -> None:
    settings = kafka_settings(kafka_broker, kafka_topic_factory, partitions=3)
    topics = settings.worker.topics
    produce(kafka_broker, topics.pending, events(0, 3000))
    config = write_config(tmp_path / "worker.yaml", settings, max_in_flight=20)

    first = Worker(config, "first", delay_ms=10)
    workers.append(first)
    first.wait_for_log("Partitions assigned")
    deadline = time.monotonic() + 30
    while count_outputs(kafka_broker, topics.enriched, 300) < 300:
        assert time.monotonic() < deadline, first.log()
    first.signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL
    done_before = count_outputs(kafka_broker, topics.enriched, 3000)
    assert done_before < 3000  # killed mid-stream

    second = Worker(config, "second", delay_ms=0)
    workers.append(second)
    expected = {f"event-{i}".encode() for i in range(3000)}
    outputs = read_topic(kafka_broker, topics.enriched, 3000, timeout=60, values=expected)
    assert {m.value() for m in outputs} == expected
    second.signal(signal.SIGTERM)
    assert second.wait() == 0, second.log()
    assert "Kafka runtime stopped" in second.log()


def test_two_workers_share_partitions_and_a_stopping_one_hands_them_over(
    kafka_broker: KafkaBroker,
    kafka_topic_factory: TopicFactory,
    tmp_path: Path,
    workers: list[Worker],
) -> None:
    settings = kafka_settings(kafka_broker, kafka_topic_factory, partitions=6)
    topics = settings.worker.topics
    config = write_config(tmp_path / "worker.yaml", settings, max_in_flight=10)
    a = Worker(config, "a", delay_ms=20)
    workers.append(a)
    a.wait_for_log("Partitions assigned")
    b = Worker(config, "b", delay_ms=20)
    workers.append(b)
    b.wait_for_log("Partitions assigned")
    a.wait_for_log("Partitions assigned", count=2)  # the group rebalanced to share

    produce(kafka_broker, topics.pending, events(0, 2000))
    deadline = time.monotonic() + 30
    while count_outputs(kafka_broker, topics.enriched, 400) < 400:  # both are busy now
        assert time.monotonic() < deadline, a.log() + b.log()
    assignments = b.log().count("Partitions assigned")
    a.signal(signal.SIGTERM)  # mid-stream: a drains what it fetched, commits, leaves
    assert a.wait() == 0, a.log()
    assert "Partitions revoked" in a.log()
    b.wait_for_log("Partitions assigned", count=assignments + 1)  # b now owns every partition

    produce(kafka_broker, topics.pending, events(2000, 3000))
    expected = {f"event-{i}".encode() for i in range(3000)}
    outputs = read_topic(
        kafka_broker, topics.enriched, 3000, timeout=60, settle=1.0, values=expected
    )
    ids = Counter(m.value() for m in outputs)
    assert set(ids) == expected
    assert max(ids.values()) == 1  # a drained and committed before handing over: no rework
    by_worker = Counter(headers_of(m)["worker"] for m in outputs)
    assert by_worker["a"] > 0
    assert by_worker["b"] > 1000
    late = [headers_of(m) for m in outputs if int((m.value() or b"-0").split(b"-")[1]) >= 2000]
    assert {h["worker"] for h in late} == {"b"}
    assert {h["source"].split(":")[0] for h in late} == {str(p) for p in range(6)}
    b.signal(signal.SIGTERM)
    assert b.wait() == 0, b.log()


def test_a_second_signal_exits_at_once(
    kafka_broker: KafkaBroker,
    kafka_topic_factory: TopicFactory,
    tmp_path: Path,
    workers: list[Worker],
) -> None:
    settings = kafka_settings(kafka_broker, kafka_topic_factory, partitions=1)
    produce(kafka_broker, settings.worker.topics.pending, events(0, 5))
    config = write_config(tmp_path / "worker.yaml", settings, max_in_flight=20)
    worker = Worker(config, "stuck", delay_ms=60_000)  # each event takes a minute
    workers.append(worker)
    worker.wait_for_log("Partitions assigned")
    time.sleep(1.0)  # the events are fetched and running
    worker.signal(signal.SIGTERM)
    worker.wait_for_log("Stopping: draining events")
    started = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait(10) == 128 + signal.SIGTERM
    assert time.monotonic() - started < 5
    assert "Second signal: exiting now" in worker.log()


def test_missing_topics_exit_2_naming_them(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory, tmp_path: Path
) -> None:
    settings = kafka_settings(kafka_broker, kafka_topic_factory, create=False)
    config = write_config(tmp_path / "worker.yaml", settings, max_in_flight=20)
    worker = Worker(config, "missing", delay_ms=0)
    assert worker.wait(60) == 2
    log = worker.log()
    assert "Missing Kafka topics" in log
    assert settings.worker.topics.pending in log
    assert settings.worker.topics.dlq in log
    assert "Traceback" not in log
