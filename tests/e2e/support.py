"""End-to-end test support: topics, settings and plugin files, the worker as a subprocess, topic
tails, and the scenario (events sent, and the triggers and rows they must produce).

The scenario's task trigger instance (:func:`write_trigger_instance`) mirrors the shipped
``plugins/config/task_trigger/config.yaml``: template 456 publishes, calls ``/hooks/photo`` and logs
on completion; template 789 calls ``/hooks/damage`` on assignment, publishes keyed by assignment
on completion, and logs and counts on both; template 123 has no trigger. The ClaimX API simulator
decides each assignment's template (:data:`TEMPLATES`), so :func:`expected_actions` knows which
triggers must fire.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self

import attrs
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from ruamel.yaml import YAML

from claimx_worker.actions import idempotency_key
from claimx_worker.model import EventType
from claimx_worker.testing.claimx_api import (
    DEFAULT_TASK_TEMPLATE_IDS,
    SIMULATOR_TOKEN,
    SimulatedData,
)
from claimx_worker.testing.kafka import KafkaBroker, TopicSpec
from tests.unit.task_trigger.support import PAYLOAD_KEYS

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(sys.executable).with_name("claimx-worker")
"""The console script installed beside this interpreter."""

TEMPLATES = DEFAULT_TASK_TEMPLATE_IDS
"""Task template ids as the simulator assigns them: ``TEMPLATES[assignment_id % 3]``."""
PHOTO, DAMAGE, UNTRIGGERED = 456, 789, 123
PHOTO_PATH, DAMAGE_PATH = "/hooks/photo", "/hooks/damage"
INSTANCE = "task_trigger"
UNKNOWN_TYPE = "CLAIMX_SOMETHING_NEW"
ALL_TYPES: tuple[str, ...] = (*EventType, UNKNOWN_TYPE)
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")

_yaml = YAML()
_yaml.default_flow_style = False


# --------------------------------------------------------------------------- topics


@attrs.frozen
class Topics:
    """One test's topics (unique names); two retry delays, ``1s`` and ``2s``."""

    pending: str
    enriched: str
    downloads: str
    retry_prefix: str
    dlq: str
    actions_dlq: str
    actions_retry: str
    triggers: str

    @classmethod
    def unique(cls) -> Topics:
        """Fresh names under ``e2e.<random>``."""
        prefix = f"e2e.{uuid.uuid4().hex[:10]}"
        return cls(
            pending=f"{prefix}.pending",
            enriched=f"{prefix}.enriched",
            downloads=f"{prefix}.downloads",
            retry_prefix=f"{prefix}.retry",
            dlq=f"{prefix}.dlq",
            actions_dlq=f"{prefix}.actions-dlq",
            actions_retry=f"{prefix}.actions-retry",
            triggers=f"{prefix}.task-triggers",
        )

    @property
    def retry_delays(self) -> tuple[str, ...]:
        return ("1s", "2s")

    def all(self) -> list[str]:
        retries = [f"{self.retry_prefix}.{delay}" for delay in self.retry_delays]
        return [
            self.pending,
            *retries,
            self.enriched,
            self.downloads,
            self.dlq,
            self.actions_dlq,
            self.actions_retry,
            self.triggers,
        ]

    def create(self, broker: KafkaBroker, partitions: int) -> None:
        """Create every topic in one request (the input topic with ``partitions``)."""
        specs = [TopicSpec(name, partitions if name == self.pending else 2) for name in self.all()]
        broker.create_topics(specs)


# --------------------------------------------------------------------------- files


def write_yaml(path: Path, data: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as stream:
        _yaml.dump(data, stream)
    return path


def write_settings(
    path: Path,
    *,
    broker: KafkaBroker,
    topics: Topics,
    group: str,
    plugins_dir: Path,
    api_url: str,
    actions: Mapping[str, Any] | None = None,
    processing: Mapping[str, Any] | None = None,
    api: Mapping[str, Any] | None = None,
    common: Mapping[str, Any] | None = None,
) -> Path:
    """A worker settings file: fast commits and retries, the simulator's token from
    ``CLAIMX_API_TOKEN``, any free metrics port; ``common``: librdkafka properties of every
    client."""
    return write_yaml(
        path,
        {
            "kafka": {
                "bootstrap_servers": broker.bootstrap_servers,
                "common": dict(common or {}),
                "consumer": {},  # the defaults: a killed worker leaves the group after 6 s
                "claimx": {
                    "enrichment_worker": {
                        "consumer_group": group,
                        "topics": {
                            "pending": topics.pending,
                            "enriched": topics.enriched,
                            "downloads": topics.downloads,
                            "retry_prefix": topics.retry_prefix,
                            "dlq": topics.dlq,
                            "actions_dlq": topics.actions_dlq,
                            "actions_retry": topics.actions_retry,
                        },
                        "processing": {
                            "plugins_dir": str(plugins_dir),
                            "commit_interval_seconds": 0.5,
                            "drain_deadline_seconds": 15,
                            "retry_delays": list(topics.retry_delays),
                            # a budget no busy CI core can miss: the budget is not under test
                            "plugin_timeout_ms": 5000,
                            **(processing or {}),
                        },
                    }
                },
            },
            "claimx_api": {
                "base_url": api_url,
                "token": "${CLAIMX_API_TOKEN}",
                "timeout_seconds": 5,
                **(api or {}),
            },
            "actions": {
                "backoff_base": 0.05,
                "backoff_cap": 0.5,
                "breaker_reset": 1,
                **(actions or {}),
            },
            "metrics": {"port": 0},
        },
    )


def trigger_config(
    topic: str, photo_url: str, damage_url: str, *, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The scenario's task trigger instance (see the module docstring); ``headers`` go with
    both webhooks."""
    extra = {"headers": dict(headers)} if headers else {}
    return {
        "name": INSTANCE,
        "plugin": "task_trigger",
        "priority": 50,
        "config": {
            "include_task_data": True,
            "include_project_data": True,
            "triggers": {
                PHOTO: {
                    "name": "Photo Documentation Task",
                    "on_completed": {
                        "publish_to_topic": topic,
                        "webhook": {"url": photo_url, "timeout": 10, **extra},
                        "log": "Photo documentation completed: assignment {assignment_id}",
                    },
                },
                DAMAGE: {
                    "name": "Damage Assessment",
                    "on_assigned": {"webhook": {"url": damage_url, **extra}},
                    "on_completed": {
                        "publish_to_topic": {"topic": topic, "key": "{assignment_id}"}
                    },
                    "on_any": {
                        "log": "{trigger_name} {event_type}: assignment {assignment_id}",
                        "metric": {"name": "damage_assessment_tasks"},
                    },
                },
            },
        },
    }


def write_trigger_instance(plugins_dir: Path, config: Mapping[str, Any]) -> Path:
    return write_yaml(plugins_dir / INSTANCE / "config.yaml", config)


@attrs.frozen
class Deployment:
    """A settings file and the consumer group it names."""

    config: Path
    group: str


def deploy(
    directory: Path,
    *,
    broker: KafkaBroker,
    topics: Topics,
    api_url: str,
    trigger: Mapping[str, Any],
    actions: Mapping[str, Any] | None = None,
    processing: Mapping[str, Any] | None = None,
    api: Mapping[str, Any] | None = None,
) -> Deployment:
    """Write ``directory/plugins/<trigger instance>/config.yaml`` and ``directory/worker.yaml``."""
    plugins = directory / "plugins"
    write_trigger_instance(plugins, trigger)
    group = f"e2e-{topics.pending}"
    config = write_settings(
        directory / "worker.yaml",
        broker=broker,
        topics=topics,
        group=group,
        plugins_dir=plugins,
        api_url=api_url,
        actions=actions,
        processing=processing,
        api=api,
    )
    return Deployment(config, group)


# --------------------------------------------------------------------------- the worker


class WorkerProcess:
    """``claimx-worker run --config FILE`` as a subprocess; stdout and stderr go to files.

    With ``config`` ``None`` it runs ``claimx-worker run`` with no option in ``directory`` (settings
    from the defaults and ``env`` only), which then also holds the output files.
    """

    def __init__(
        self,
        config: Path | None,
        env: Mapping[str, str],
        name: str = "worker",
        *,
        directory: Path | None = None,
    ) -> None:
        self.name = name
        if config is None:
            assert directory is not None, "a worker without --config needs a directory"
            where, cwd, args = directory, directory, ["run"]
        else:
            where, cwd, args = config.parent, REPO, ["run", "--config", str(config)]
        self.stdout_path = where / f"{name}.stdout"
        self.stderr_path = where / f"{name}.stderr"
        inherited = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
        full_env = {  # the settings file (or ``env``) names the broker
            **inherited,
            "CLAIMX_API_TOKEN": SIMULATOR_TOKEN,
            "LOG_LEVEL": "INFO",
            **env,
        }
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [str(WORKER), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=full_env,
                cwd=cwd,
            )

    def output(self) -> str:
        """stdout and stderr so far."""
        return "".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in (self.stdout_path, self.stderr_path)
        )

    def wait_for_log(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {text!r} in:\n{self.output()[-5000:]}")
            time.sleep(0.05)

    def alive(self) -> None:
        """Fail with the worker's output if it exited."""
        if self.process.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with {self.process.returncode}:\n{self.output()[-5000:]}"
            )

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


DeployScenario = Callable[..., Deployment]
"""The ``deploy_scenario`` fixture: ``deploy_scenario(actions=..., processing=..., api=...)``."""

StartWorker = Callable[..., WorkerProcess]
"""The ``start_worker`` fixture: ``start_worker(config, env=None, name="worker", directory=None)``
(see :class:`WorkerProcess`)."""


def run_cli(
    *args: str, env: Mapping[str, str], cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """``claimx-worker ARGS...`` to completion in ``cwd`` (the simulator's token in the
    environment)."""
    return subprocess.run(
        [str(WORKER), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CLAIMX_API_TOKEN": SIMULATOR_TOKEN, **env},
        cwd=cwd,
        check=False,
    )


# --------------------------------------------------------------------------- Kafka I/O


@attrs.frozen
class Record:
    """A consumed message, decoded."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Mapping[str, str]
    timestamp_ms: int

    def json(self) -> Any:
        return json.loads(self.value)


def produce(broker: KafkaBroker, topic: str, records: Iterable[tuple[bytes, bytes]]) -> None:
    """Produce ``(key, value)`` pairs and wait until all are acknowledged."""
    producer = Producer(broker.client_config({"linger.ms": 5, "enable.idempotence": True}))
    failures: list[str] = []

    def delivered(error: Any, _: Any) -> None:
        if error is not None:
            failures.append(str(error))

    for key, value in records:
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(30) == 0
    assert not failures, failures


class TopicTail:
    """Reads one topic from its beginning (no consumer group), accumulating :class:`Record`."""

    def __init__(self, broker: KafkaBroker, topic: str) -> None:
        self.topic = topic
        self.records: list[Record] = []
        self._consumer = Consumer(
            broker.client_config(
                {"group.id": f"e2e-tail-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}
            )
        )
        partitions = broker.admin().list_topics(topic, timeout=10).topics[topic].partitions
        self._partitions = [TopicPartition(topic, p) for p in partitions]
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self._consumer.close()

    def poll(self, timeout: float = 0.1) -> list[Record]:
        """Fetch what is available; the new records."""
        new = []
        for message in self._consumer.consume(num_messages=1000, timeout=timeout):
            assert message.error() is None, message.error()
            new.append(
                Record(
                    topic=message.topic(),
                    partition=message.partition(),
                    offset=message.offset(),
                    key=message.key(),
                    value=message.value(),
                    headers={k: (v or b"").decode() for k, v in message.headers() or ()},
                    timestamp_ms=message.timestamp()[1],
                )
            )
        self.records += new
        return new

    def wait_for(
        self,
        done: Callable[[list[Record]], bool],
        timeout: float = 60.0,
        *,
        what: str = "",
        worker: WorkerProcess | None = None,
    ) -> list[Record]:
        """Poll until ``done(records)``; fail after ``timeout`` seconds, or as soon as
        ``worker`` exits."""
        deadline = time.monotonic() + timeout
        while not done(self.records):
            if worker is not None:
                worker.alive()
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.topic}: {what or 'condition'} not met after {timeout} s "
                    f"({len(self.records)} records)"
                )
            self.poll()
        return self.records

    def settle(self, quiet: float = 1.0, timeout: float = 30.0) -> list[Record]:
        """Read up to the topic's current end, then until nothing new came for ``quiet`` s."""
        ends = {
            tp.partition: self._consumer.get_watermark_offsets(tp, timeout=10)[1]
            for tp in self._partitions
        }
        deadline = time.monotonic() + timeout
        while True:
            seen = {r.partition: r.offset + 1 for r in self.records}
            if all(seen.get(p, 0) >= end for p, end in ends.items()):
                break
            assert time.monotonic() < deadline, f"{self.topic}: not read to its end"
            self.poll()
        until = time.monotonic() + quiet
        while time.monotonic() < until:
            if self.poll(0.1):
                until = time.monotonic() + quiet
        return self.records


def committed_lag(broker: KafkaBroker, group: str, topic: str) -> dict[int, int]:
    """Per partition: end offset minus the group's committed offset (0 = all committed)."""
    consumer = Consumer(broker.client_config({"group.id": group, "enable.auto.commit": False}))
    try:
        partitions = broker.admin().list_topics(topic, timeout=10).topics[topic].partitions
        committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        lag = {}
        for tp in committed:
            _, high = consumer.get_watermark_offsets(tp, timeout=10)
            lag[tp.partition] = high - max(tp.offset, 0)
        return lag
    finally:
        consumer.close()


def wait_committed(broker: KafkaBroker, group: str, topic: str, timeout: float = 30.0) -> None:
    """Wait until ``group`` has committed every partition of ``topic`` to its end."""
    deadline = time.monotonic() + timeout
    while any(committed_lag(broker, group, topic).values()):
        assert time.monotonic() < deadline, "offsets not committed to the end"
        time.sleep(0.25)


# --------------------------------------------------------------------------- the scenario


@attrs.frozen
class SentEvent:
    """An event as produced to the input topic."""

    event_id: str
    event_type: str
    project_id: str
    assignment_id: int | None = None
    media_id: str | None = None

    @property
    def template(self) -> int | None:
        """The task template the simulator gives this event's assignment."""
        if self.assignment_id is None:
            return None
        return TEMPLATES[self.assignment_id % len(TEMPLATES)]

    def message(self) -> tuple[bytes, bytes]:
        body: dict[str, Any] = {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "project_id": self.project_id,
            "created_at": "2024-05-01T12:00:00Z",
        }
        if self.assignment_id is not None:
            body["task_assignment_id"] = str(self.assignment_id)
        if self.media_id is not None:
            body["media_id"] = self.media_id
        if self.event_type == EventType.PROJECT_MFN_ADDED:
            body["master_file_name"] = f"MFN-NEW-{self.event_id}"
        if self.event_type.startswith("VIDEO_COLLABORATION"):
            body["video_collaboration_id"] = f"{self.project_id}01"
        return self.project_id.encode(), json.dumps(body).encode()


def assignment_with(template: int, at_least: int) -> int:
    """The smallest assignment id ``>= at_least`` that the simulator gives ``template``."""
    wanted = TEMPLATES.index(template)
    return at_least + (wanted - at_least) % len(TEMPLATES)


def mixed_events(count: int, *, prefix: str, projects: int = 40) -> list[SentEvent]:
    """``count`` events cycling through every type (and an unknown one) over ``projects``
    projects; task assignments cycle through the templates, media through ids with and
    without a download link (every other file event names no media: all the project's)."""
    events = []
    for i in range(count):
        event_type = ALL_TYPES[i % len(ALL_TYPES)]
        project = 1000 + i % projects
        assignment = media = None
        if event_type in (EventType.CUSTOM_TASK_ASSIGNED, EventType.CUSTOM_TASK_COMPLETED):
            assignment = 5_000_000 + i
        if event_type == EventType.PROJECT_FILE_ADDED and i % 2 == 0:
            media = str(project * 1000 + i % 3)
        events.append(SentEvent(f"{prefix}-{i:05d}", event_type, str(project), assignment, media))
    return events


def task_events(
    count: int, *, prefix: str, template: int, event_type: str, project: int = 2000
) -> list[SentEvent]:
    """``count`` task events of one template and type, each on its own project."""
    return [
        SentEvent(
            f"{prefix}-{i:04d}",
            event_type,
            str(project + i),
            assignment_with(template, 7_000_000 + 3 * i),
        )
        for i in range(count)
    ]


def photo_and_damage_events(count: int) -> list[SentEvent]:
    """``count`` completed photo tasks (a publish and a webhook each), then ``count`` assigned
    damage assessments (a webhook each)."""
    completed, assigned = EventType.CUSTOM_TASK_COMPLETED, EventType.CUSTOM_TASK_ASSIGNED
    return task_events(count, prefix="photo", template=PHOTO, event_type=completed) + task_events(
        count, prefix="damage", template=DAMAGE, event_type=assigned
    )


@attrs.frozen
class ExpectedAction:
    """A webhook call or topic message a trigger must produce."""

    event: SentEvent
    kind: Literal["webhook", "publish"]
    index: int
    trigger_name: str
    path: str | None = None
    key: str | None = None

    @property
    def idempotency_key(self) -> str:
        return idempotency_key(self.event.event_id, INSTANCE, self.index)


def expected_actions(events: Iterable[SentEvent]) -> list[ExpectedAction]:
    """The webhooks and messages of :func:`trigger_config` for ``events`` (action indexes:
    the specific block's publish, webhook, log, metric, then ``on_any``'s)."""
    expected = []
    for event in events:
        completed = event.event_type == EventType.CUSTOM_TASK_COMPLETED
        assigned = event.event_type == EventType.CUSTOM_TASK_ASSIGNED
        if event.template == PHOTO and completed:
            name = "Photo Documentation Task"
            expected += [
                ExpectedAction(event, "publish", 0, name, key=event.project_id),
                ExpectedAction(event, "webhook", 1, name, path=PHOTO_PATH),
            ]
        elif event.template == DAMAGE and assigned:
            expected.append(
                ExpectedAction(event, "webhook", 0, "Damage Assessment", path=DAMAGE_PATH)
            )
        elif event.template == DAMAGE and completed:
            key = str(event.assignment_id)
            expected.append(ExpectedAction(event, "publish", 0, "Damage Assessment", key=key))
    return expected


def check_payload(
    payload: Mapping[str, Any],
    action: ExpectedAction,
    data: SimulatedData,
    entity_rows: Mapping[str, Any],
) -> None:
    """``payload`` is what the trigger README specifies for ``action``'s event: the fixed keys
    from the event and the assignment, and the very task and project rows written for it."""
    event = action.event
    assert event.assignment_id is not None
    assignment = data.assignment(event.assignment_id, TEMPLATES)
    assert set(payload) == set(PAYLOAD_KEYS)
    assert payload["trigger_name"] == action.trigger_name
    assert payload["event_id"] == event.event_id
    assert payload["event_type"] == event.event_type
    assert payload["project_id"] == event.project_id
    assert payload["task_id"] == event.template
    assert payload["assignment_id"] == event.assignment_id
    assert payload["task_name"] == assignment["taskName"]
    assert payload["task_status"] == assignment["status"]
    assert TIMESTAMP.fullmatch(payload["timestamp"]), payload["timestamp"]
    (task,) = entity_rows["tasks"]
    assert payload["task"] == task
    (project,) = entity_rows["projects"]
    assert {k: payload["project"][k] for k in project} == project
    assert all(payload["project"][k] is None for k in payload["project"].keys() - project.keys())


def by_event(records: Sequence[Record]) -> dict[str, Any]:
    """JSON values of entity-row messages by event id."""
    return {(value := r.json())["event_id"]: value for r in records}
