"""The demo: ``claimx-worker run`` on a local broker with the ClaimX API simulator.

``python -m claimx_worker.testing.demo [--events N]`` (what ``nox -s demo`` runs) starts the
sandbox (:mod:`claimx_worker.testing.sandbox`: a local Apache Kafka broker, or
``KAFKA_BOOTSTRAP_SERVERS``; the ClaimX API simulator; a webhook receiver); produces a stream of
sample ClaimX events (every event type, task events whose templates match the shipped task
trigger, an unknown type and one malformed message); runs the real worker with the repository's
``plugins/config/`` pointed at the receiver, and beside it the table writer (``claimx-worker
tables run``, :mod:`.demo_tables`) writing the Delta tables in a temporary directory; waits until
every event is committed and every entity-rows message written; stops both with SIGTERM; and
prints what happened, with the rows per table and one ``claimx_tasks`` row. It exits non-zero
when anything expected did not arrive. Each run has its own topics and consumer groups (named
after a run id, deleted at the end), so a broker that already holds data, from an earlier run or
anything else, changes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen
from confluent_kafka import Consumer, TopicPartition

from claimx_worker.actions.identity import HTTP_IDEMPOTENCY_HEADER
from claimx_worker.kafka.settings import (
    EnrichmentWorkerSettings,
    ProcessingSettings,
    TopicSettings,
)
from claimx_worker.model.event import EventType
from claimx_worker.testing.commands import start_logging
from claimx_worker.testing.demo_tables import (
    report_tables,
    start_writer,
    tables_section,
    wait_until_written,
)
from claimx_worker.testing.kafka import KafkaBrokerError
from claimx_worker.testing.producing import Message, produce_messages
from claimx_worker.testing.sandbox import TASK_TRIGGER_TOPIC, Sandbox, worker_topics
from claimx_worker.testing.simulated_data import DEFAULT_TASK_TEMPLATE_IDS, SimulatedData
from claimx_worker.testing.webhooks import WebhookReceiver

SEED = 7
PHOTO_TEMPLATE, DAMAGE_TEMPLATE = 456, 789
RETRY_DELAYS = ("5s", "30s")


@frozen
class DemoRun:
    """The names of one run: its topics and consumer group carry the run id."""

    run_id: str = attrs.field(factory=lambda: uuid.uuid4().hex[:8])

    @property
    def worker(self) -> EnrichmentWorkerSettings:
        """The worker's group and topics (``demo-<run id>.claimx.enrichment.pending``, ...)."""
        defaults = attrs.asdict(TopicSettings())
        topics = TopicSettings(**{key: self._prefixed(name) for key, name in defaults.items()})
        return EnrichmentWorkerSettings(
            consumer_group=f"claimx-demo-worker-{self.run_id}",
            topics=topics,
            processing=ProcessingSettings(retry_delays=RETRY_DELAYS),
        )

    @property
    def trigger_topic(self) -> str:
        """The topic the shipped task trigger publishes to in this run."""
        return self._prefixed(TASK_TRIGGER_TOPIC)

    @property
    def tables_dlq(self) -> str:
        """The table writer's DLQ topic in this run."""
        return self._prefixed("claimx.tables.dlq")

    @property
    def topics(self) -> list[str]:
        """Every topic of the run."""
        return [*worker_topics(self.worker), self.trigger_topic, self.tables_dlq]

    def settings_file(self, plugins_dir: Path, tables: Path) -> str:
        """The settings of the worker and the table writer (writing under ``tables``) for
        this run (JSON, which the YAML loader reads as is)."""
        worker = self.worker
        processing = {
            "plugins_dir": str(plugins_dir),
            "commit_interval_seconds": 1,
            "drain_deadline_seconds": 15,
            "retry_delays": list(worker.processing.retry_delays),
        }
        settings = {
            "kafka": {
                "claimx": {
                    "enrichment_worker": {
                        "consumer_group": worker.consumer_group,
                        "topics": attrs.asdict(worker.topics),
                        "processing": processing,
                    }
                }
            },
            "claimx_api": {"base_url": "${CLAIMX_API_URL}", "token": "${CLAIMX_API_TOKEN}"},
            "metrics": {"port": 0},
            "tables": tables_section(tables, self.run_id, self.tables_dlq),
        }
        return json.dumps(settings, indent=2)

    def _prefixed(self, name: str) -> str:
        return f"demo-{self.run_id}.{name}"


@frozen
class Expected:
    """What the stream must produce."""

    events: int
    webhooks: int
    trigger_messages: int
    invalid: int


def sample_events(count: int, data: SimulatedData, base_url: str) -> Iterator[dict[str, Any]]:
    """``count`` ClaimX events cycling through every type, consistent with the simulator."""
    types = [*EventType, "PROJECT_ARCHIVED"]  # the last one: a type this worker does not know
    for index in range(count):
        event_type = types[index % len(types)]
        project_id = 100 + index % 40
        event: dict[str, Any] = {
            "eventId": f"demo-{index:05d}",
            "eventType": str(event_type),
            "projectId": str(project_id),
            "ingestedAt": "2026-11-29T08:00:00Z",
        }
        if event_type in (EventType.CUSTOM_TASK_ASSIGNED, EventType.CUSTOM_TASK_COMPLETED):
            event["taskAssignmentId"] = str(project_id * 1000 + index % 997)
        elif event_type == EventType.PROJECT_FILE_ADDED:
            event["mediaId"] = str(data.media(project_id, base_url)[0]["mediaID"])
        elif event_type == EventType.PROJECT_MFN_ADDED:
            event["masterFileName"] = f"MFN-{project_id}-{index}"
        elif event_type.startswith("VIDEO_COLLABORATION"):
            event["videoCollaborationId"] = str(project_id * 10)
        yield event


def expectations(events: list[dict[str, Any]]) -> Expected:
    """Webhooks and trigger-topic messages the shipped task trigger must produce."""
    templates = Counter[tuple[int, str]]()
    for event in events:
        if "taskAssignmentId" in event:
            assignment = int(event["taskAssignmentId"])
            template = DEFAULT_TASK_TEMPLATE_IDS[assignment % len(DEFAULT_TASK_TEMPLATE_IDS)]
            templates[template, event["eventType"]] += 1
    assigned, completed = "CUSTOM_TASK_ASSIGNED", "CUSTOM_TASK_COMPLETED"
    return Expected(
        events=len(events) + 1,
        webhooks=templates[PHOTO_TEMPLATE, completed] + templates[DAMAGE_TEMPLATE, assigned],
        trigger_messages=templates[PHOTO_TEMPLATE, completed]
        + templates[DAMAGE_TEMPLATE, completed],
        invalid=1,
    )


def messages(events: list[dict[str, Any]]) -> list[Message]:
    """The events keyed by project id, plus one malformed message."""
    return [
        *((event["projectId"].encode(), json.dumps(event).encode()) for event in events),
        (b"malformed", b"{this is not json"),
    ]


def wait_until_committed(
    bootstrap: str, run: DemoRun, expected: int, worker: subprocess.Popen[bytes]
) -> int:
    """Poll the worker's committed offsets until they cover ``expected`` events (or 120 s)."""
    group, topic = run.worker.consumer_group, run.worker.topics.pending
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        assignment = [TopicPartition(topic, p) for p in partitions]
        deadline = time.monotonic() + 120
        done = 0
        while time.monotonic() < deadline and worker.poll() is None:
            done = sum(max(tp.offset, 0) for tp in consumer.committed(assignment, timeout=10))
            if done >= expected:
                break
            time.sleep(0.5)
        return done
    finally:
        consumer.close()


def count_messages(bootstrap: str, topics: tuple[str, ...]) -> dict[str, int]:
    """Messages on each topic (end minus start offsets)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "claimx-demo-reader"})
    try:
        counts = {}
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            counts[topic] = sum(
                high - low
                for low, high in (
                    consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                    for p in metadata.partitions
                )
            )
        return counts
    finally:
        consumer.close()


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 when everything expected arrived."""
    parser = argparse.ArgumentParser(prog="python -m claimx_worker.testing.demo")
    parser.add_argument("--events", type=int, default=600, help="sample events to produce")
    parser.add_argument(
        "--plugins-dir", type=Path, default=Path("plugins/config"), help="plugin instances"
    )
    args = parser.parse_args(argv)
    if not args.plugins_dir.is_dir():
        parser.error(
            f"--plugins-dir: {args.plugins_dir} is not a directory (run the demo from a "
            "claimx-worker checkout, whose plugins/config/ it runs, or pass --plugins-dir)"
        )
    start_logging()
    run = DemoRun()
    with (
        tempfile.TemporaryDirectory(prefix="claimx-demo-") as workdir,
        Sandbox(topics=run.topics, seed=SEED, log_webhooks=False) as sandbox,
    ):
        bootstrap = sandbox.broker.bootstrap_servers
        print(f"Kafka broker      {bootstrap} (topics demo-{run.run_id}.*)")
        print(f"ClaimX API        {sandbox.api.base_url} (simulator, seed {SEED})")
        print(f"Webhook receiver  {sandbox.receiver.base_url}")
        events = list(sample_events(args.events, SimulatedData(SEED), sandbox.api.base_url))
        expected = expectations(events)
        config = Path(workdir, "claimx_config.yaml")
        tables = Path(workdir, "delta")
        config.write_text(run.settings_file(args.plugins_dir.resolve(), tables))
        log_path = Path(workdir, "worker.log")
        env = {**os.environ, **sandbox.environment(), "TASK_TRIGGER_TOPIC": run.trigger_topic}
        command = [
            str(Path(sys.executable).with_name("claimx-worker")),
            "run",
            "--config",
            str(config),
        ]
        print(f"\n$ {' '.join(command)}")
        try:
            writer = start_writer(config, env, Path(workdir, "tables.log"))
            with log_path.open("wb") as log:
                worker = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
                try:
                    started = time.monotonic()
                    _wait_for_line(log_path, "Partitions assigned", worker)
                    config_kafka = {"bootstrap.servers": bootstrap}
                    produce_messages(config_kafka, run.worker.topics.pending, messages(events))
                    print(f"Produced {len(events)} sample events and 1 malformed message")
                    committed = wait_until_committed(bootstrap, run, expected.events, worker)
                    elapsed = time.monotonic() - started
                    sandbox.receiver.wait_until(
                        lambda: len(sandbox.receiver.requests) >= expected.webhooks, 30
                    )
                    written = wait_until_written(
                        bootstrap,
                        f"claimx-demo-tables-{run.run_id}",
                        run.worker.topics.enriched,
                        writer,
                    )
                finally:
                    worker.send_signal(signal.SIGTERM)
                    writer.send_signal(signal.SIGTERM)
                    status = worker.wait(60) or writer.wait(60)
            lines = log_path.read_text(errors="replace").splitlines()
            failed = _report(
                bootstrap, run, sandbox.receiver, expected, committed, elapsed, status, lines
            )
            empty_tables = report_tables(tables)
            if not written or empty_tables:
                print("The table writer did not write every table.")
            return failed or int(not written or bool(empty_tables))
        finally:
            with contextlib.suppress(KafkaBrokerError):
                sandbox.broker.delete_topics(run.topics)


def _wait_for_line(path: Path, text: str, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while text not in path.read_text(errors="replace"):
        if worker.poll() is not None or time.monotonic() > deadline:
            sys.stdout.write(path.read_text(errors="replace"))
            raise SystemExit(f"the worker did not start (exit status {worker.poll()})")
        time.sleep(0.2)


def _report(
    bootstrap: str,
    run: DemoRun,
    receiver: WebhookReceiver,
    expected: Expected,
    committed: int,
    elapsed: float,
    status: int,
    lines: list[str],
) -> int:
    topics = run.worker.topics
    counts = count_messages(
        bootstrap,
        (topics.enriched, topics.downloads, run.trigger_topic, topics.dlq, topics.actions_dlq),
    )
    matched = sum("Task trigger matched" in line for line in lines)
    webhooks = Counter(r.path for r in receiver.requests if 200 <= r.status < 300)
    print("\nWorker log (first trigger lines):")
    for line in [line for line in lines if "Task trigger matched" in line][:5]:
        print(f"  {line}")
    rows = [  # (what, how many, how many expected: at least (at-least-once delivery) or None)
        ("events committed", committed, expected.events),
        ("triggers fired", matched, None),
        ("webhooks received", sum(webhooks.values()), expected.webhooks),
        ("messages on the trigger topic", counts[run.trigger_topic], expected.trigger_messages),
        ("entity-row messages (claimx.enriched)", counts[topics.enriched], None),
        ("download tasks (claimx.downloads.pending)", counts[topics.downloads], None),
        ("events in the DLQ (claimx.enrichment.dlq)", counts[topics.dlq], None),
        ("actions in the DLQ (claimx.actions.dlq)", counts[topics.actions_dlq], None),
    ]
    print(f"\nWhat happened (worker exit status {status}, {elapsed:.1f} s):")
    failures = 0
    for label, value, want in rows:
        ok = want is None or value >= want
        failures += not ok
        note = "" if want is None else f"  (expected {want})" + ("" if ok else "  MISSING")
        print(f"  {label:<44} {value:>6}{note}")
    dead_letters = counts[topics.dlq] + counts[topics.actions_dlq]
    if dead_letters != expected.invalid:
        failures += 1
        print(f"Expected only the {expected.invalid} malformed message in the DLQs.")
    for path, count in sorted(webhooks.items()):
        print(f"    webhook {path:<37} {count:>6}")
    if receiver.requests:
        first = receiver.requests[0]
        payload = {k: v for k, v in first.json().items() if k not in ("task", "project")}
        print(f"\nOne webhook as received ({first.method} {first.path}):")
        key = first.headers.get(HTTP_IDEMPOTENCY_HEADER.lower())
        print(f"  {HTTP_IDEMPOTENCY_HEADER}: {key}")
        print("  " + json.dumps(payload, indent=2).replace("\n", "\n  "))
    if status != 0:
        print("The worker did not stop cleanly.")
    return 1 if failures or status != 0 else 0


if __name__ == "__main__":
    raise SystemExit(main())
