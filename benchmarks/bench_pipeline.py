"""Whole-pipeline throughput: ``claimx-worker run`` (one process) on a local broker, with the
ClaimX API simulator (0 ms latency) and a webhook receiver each in a process of their own.

The input topic (6 partitions, 1,000 projects) is filled before the worker starts with a mix of
every event type; every tenth event is a completed task of template 456, whose trigger publishes
the payload to a topic and POSTs it to the receiver. Runs, each with its own topics, group and
receiver:

- ``pipeline_minimal_loop``: not the worker but ``minimal_loop.py``, the same I/O written by hand
  (no plugins, no metrics): the floor, the ``baseline`` of ``pipeline_e2e``'s events per
  CPU-second (its ``ratio``);
- ``pipeline_e2e``: the receiver answers at once. This run and the floor's alternate,
  ``FLOOR_ROUNDS`` times; both report the mean of their runs (``rounds``: each run's events per
  CPU-second);
- ``pipeline_slow_webhook``: the receiver takes 2 s per call (``baseline`` and ``ratio``
  against ``pipeline_e2e``);
- ``pipeline_e2e_with_tables_writer``: as ``pipeline_e2e``, with ``claimx-worker tables run``
  (default settings, tables in a temporary directory) consuming the run's ``claimx.enriched``
  topic at the same time; ``value`` and ``events_per_cpu_second`` are the worker's, the
  ``baseline`` is ``pipeline_e2e``'s events per CPU-second and ``ratio`` this run's against it
  (the issue's "``pipeline_e2e`` unchanged when the writer runs beside it");
  ``tables_writer_cpu_seconds`` is the writer's CPU time while the worker ran.

The worker runs with its default settings: a rate R with 10% calls of 2 s keeps 0.2 R calls in
flight (Little's law): within the default 512 per endpoint up to about 2,500 events/s (the
former 256 bound at 1,280), and the events they hold stay well within the default 2,000 events
in flight, where fetching pauses (it resumes at 1,000). At 1,000 (resuming at 500) the slow run
lost 7-17% against the fast one once the worker passed 1,500 events/s; earlier, 500 (resuming
at 250) took about a quarter off it.

``value`` is the sustained rate: events/s while the group's committed offsets (polled every
50 ms; commits every 200 ms) went from 10% to 90% of the events, so neither the start (group
join, first fetches) nor the drain (the last webhooks' 2 s in the slow run, a fixed latency
that is not throughput) counts. ``drain_events_per_s`` counts from the first event consumed (the
first entity-row message's timestamp) to the moment the committed offsets reach the end.
A first run, not reported, warms the fresh broker up (it spends seconds of CPU on its first).
``events_per_cpu_second`` divides the events by the worker's CPU time from its partition
assignment on (all its threads): the rate a worker would reach with a core to itself, which the
wall-clock figure does not show on a machine shared with the broker, the simulator and the
receiver. ``lost`` counts expected webhooks and trigger messages that never arrived (by
idempotency key). A run whose committed offsets stop advancing for 30 s is reported with value 0
and an ``error``. Prints one JSON list. With ``CLAIMX_BENCH_PROFILE`` set to a directory
(``nox -s profile``) it makes one run of the worker under py-spy instead and prints nothing; on a
machine with two or more CPUs the worker then runs on a CPU of its own and everything else (the
broker, the simulator, the receiver, py-spy) on the others, so that a sample of the worker is
CPU time: py-spy counts a thread that is runnable but waiting for a CPU as busy, and a worker
sharing its CPUs is preempted most right after it wakes another process (a produce waking the
broker, a request waking the simulator), which made those frames look several times dearer.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from ruamel.yaml import YAML

from claimx_worker.actions import idempotency_key
from claimx_worker.testing.claimx_api import DEFAULT_TASK_TEMPLATE_IDS, SIMULATOR_TOKEN
from claimx_worker.testing.kafka import KafkaBroker, TopicSpec, open_kafka_broker
from claimx_worker.testing.webhooks import load_record

EVENTS = 20_000
PARTITIONS = 6
PROJECTS = 1000
MATCH_EVERY = 10
SLOW_SECONDS = 2.0
INSTANCE = "task_trigger"
TEMPLATE, OTHER_TEMPLATE = 456, 123
TARGET_EVENTS_PER_S = 1000.0
TARGET_RATIO = 0.9
TARGET_EVENTS_PER_CPU_SECOND = 5000.0
TARGET_FLOOR_RATIO = 0.7
"""``pipeline_e2e``'s events per CPU-second against ``pipeline_minimal_loop``'s."""
TARGET_TABLES_RATIO = 0.9
"""``pipeline_e2e_with_tables_writer``'s events per CPU-second against ``pipeline_e2e``'s."""
PROFILE_VARIABLE = "CLAIMX_BENCH_PROFILE"
"""Set to a directory (``nox -s profile``): one run of the worker under py-spy, no figures."""
PROFILE_RATE = 250
FLOOR_ROUNDS = 2
"""Alternating runs of the floor and the worker, their figures averaged: the machine's load
drifts, and with one run of each the floor read 3,400 to 4,200 events per CPU-second and the
ratio 0.54 to 0.69 (the alternating rounds of issue #18 gave 0.53-0.56)."""
STALL_SECONDS = 30.0
OTHER_TYPES = (
    "PROJECT_CREATED",
    "PROJECT_FILE_ADDED",
    "CUSTOM_TASK_ASSIGNED",
    "POLICYHOLDER_INVITED",
    "VIDEO_COLLABORATION_COMPLETED",
    "PROJECT_MFN_ADDED",
    "CUSTOM_TASK_COMPLETED",
    "POLICYHOLDER_JOINED",
    "PROJECT_AUTO_XA_LINKING_UNSUCCESSFUL",
)
WORKER_TOPIC_KEYS = ("pending", "enriched", "downloads", "dlq", "actions_dlq", "actions_retry")
"""The worker's topic settings, each set to the run's topic of that name."""
TOPIC_KEYS = (*WORKER_TOPIC_KEYS, "triggers", "tables_dlq")
WORKER = Path(sys.executable).with_name("claimx-worker")
PY_SPY = Path(sys.executable).with_name("py-spy")
MINIMAL_LOOP = Path(__file__).with_name("minimal_loop.py")


def _assignment(template: int, index: int) -> int:
    """The ``index``-th assignment id the simulator gives ``template`` (``ids[id % 3]``)."""
    return 9_000_000 + 3 * index + DEFAULT_TASK_TEMPLATE_IDS.index(template)


def make_events() -> tuple[list[tuple[bytes, bytes]], list[str]]:
    """The input records, and the ids of the events that match the trigger."""
    records, matching = [], []
    for i in range(EVENTS):
        project = str(1 + i % PROJECTS)
        body: dict[str, Any] = {"event_id": f"bench-{i:07d}", "project_id": project}
        if i % MATCH_EVERY == 0:
            body["event_type"] = "CUSTOM_TASK_COMPLETED"
            body["task_assignment_id"] = str(_assignment(TEMPLATE, i))
            matching.append(body["event_id"])
        else:
            body["event_type"] = OTHER_TYPES[i % MATCH_EVERY - 1]
            if body["event_type"].startswith("CUSTOM_TASK"):
                body["task_assignment_id"] = str(_assignment(OTHER_TEMPLATE, i))
        records.append((project.encode(), json.dumps(body).encode()))
    return records, matching


@contextlib.contextmanager
def service(module: str, *args: str) -> Iterator[str]:
    """``python -m module args`` in its own process; yields the URL it prints first."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"{module} did not start (exit {process.wait(10)})")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)


def write_files(
    directory: Path, broker: KafkaBroker, names: dict[str, str], hook: str, *, tables: bool = False
) -> Path:
    """The trigger instance and the worker settings (default tuning) in ``directory``; with
    ``tables``, the table writer's too (default tuning, tables under ``directory``)."""
    yaml = YAML()
    plugin = directory / "plugins" / INSTANCE
    plugin.mkdir(parents=True)
    trigger = {
        "name": INSTANCE,
        "plugin": "task_trigger",
        "config": {
            "triggers": {
                TEMPLATE: {
                    "name": "Photo Documentation Task",
                    "on_completed": {
                        "publish_to_topic": names["triggers"],
                        "webhook": {"url": f"{hook}/hooks/photo", "timeout": 10},
                    },
                }
            }
        },
    }
    with (plugin / "config.yaml").open("w") as stream:
        yaml.dump(trigger, stream)
    settings = {
        "kafka": {
            "bootstrap_servers": broker.bootstrap_servers,
            "claimx": {
                "enrichment_worker": {
                    "consumer_group": names["group"],
                    "topics": {key: names[key] for key in WORKER_TOPIC_KEYS}
                    | {"retry_prefix": names["retry_prefix"]},
                    "processing": {
                        "plugins_dir": str(directory / "plugins"),
                        "commit_interval_seconds": 0.2,
                        "retry_delays": ["1s"],
                    },
                }
            },
        },
        "claimx_api": {"base_url": names["api"], "token": "${CLAIMX_API_TOKEN}"},
        "metrics": {"port": 0},
    }
    if tables:
        settings["tables"] = {
            "location": str(directory / "delta"),
            "consumer_group": f"{names['group']}-tables",
            "dlq_topic": names["tables_dlq"],
        }
    config = directory / "worker.yaml"
    with config.open("w") as stream:
        yaml.dump(settings, stream)
    return config


def committed(consumer: Consumer, topic: str, partitions: int) -> int:
    """Events below the group's committed offsets (0 while its coordinator is loading)."""
    try:
        offsets = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], 10)
    except KafkaException:
        return 0
    return sum(max(tp.offset, 0) for tp in offsets)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class StalledError(RuntimeError):
    """The worker's committed offsets stopped advancing."""


Progress = list[tuple[float, int]]
"""(wall-clock time, events committed) samples."""


def worker_cpu() -> int | None:
    """The CPU the profiled worker runs on alone (the last one), or ``None`` with fewer than two;
    this process, and what it starts from now on, keeps to the others."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    os.sched_setaffinity(0, cpus[:-1])
    return cpus[-1]


@contextlib.contextmanager
def profiled(pid: int, profile: Path | None) -> Iterator[None]:
    """With ``profile`` (a directory), py-spy samples process ``pid`` within the block: collapsed
    stacks to ``profile.collapsed`` and a flame graph to ``flamegraph.svg`` (two samplers)."""
    if profile is None:
        yield
        return
    profile.mkdir(parents=True, exist_ok=True)
    common = ("record", "--pid", str(pid), "--rate", str(PROFILE_RATE), "--nonblocking")
    samplers = [
        subprocess.Popen(
            [PY_SPY, *common, "--format", fmt, "--output", str(profile / name)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for fmt, name in (("raw", "profile.collapsed"), ("flamegraph", "flamegraph.svg"))
    ]
    try:
        yield
    finally:
        for sampler in samplers:  # py-spy writes its output when interrupted
            sampler.send_signal(signal.SIGINT)
        for sampler in samplers:
            sampler.wait(60)


def run_worker(
    command: list[str],
    log: Path,
    consumer: Consumer,
    topic: str,
    profile: Path | None = None,
    cpu: int | None = None,
) -> tuple[float, float, Progress]:
    """``command`` (the worker, or the minimal loop) until the group committed every event;
    returns the wall-clock time that happened, the process's CPU seconds from its partition
    assignment on, and the committed offsets over time. With ``cpu``, the process runs on that
    CPU (set as it starts, before the interpreter starts a thread)."""
    env = {**os.environ, "CLAIMX_API_TOKEN": SIMULATOR_TOKEN}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    with log.open("wb") as out:
        worker = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    if cpu is not None:
        os.sched_setaffinity(worker.pid, {cpu})
    try:
        wait_assigned(worker, log)
        with profiled(worker.pid, profile):  # from the assignment on, like the CPU time
            return _until_committed(worker, consumer, topic)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)


def wait_assigned(process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until ``process`` (writing ``log``) has partitions assigned."""
    while b"Partitions assigned" not in log.read_bytes():
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited:\n{log.read_text()[-3000:]}")
        time.sleep(0.01)


@contextlib.contextmanager
def tables_writer(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``claimx-worker tables run`` on ``config``, consuming once the block starts."""
    with log.open("wb") as out:
        writer = subprocess.Popen(
            [str(WORKER), "tables", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "CLAIMX_API_TOKEN": SIMULATOR_TOKEN},
        )
    try:
        wait_assigned(writer, log)
        yield writer
    finally:
        writer.send_signal(signal.SIGTERM)
        writer.wait(60)


def _until_committed(
    worker: subprocess.Popen[bytes], consumer: Consumer, topic: str
) -> tuple[float, float, Progress]:
    cpu_start = cpu_seconds(worker.pid)
    done, progress_at, progress = 0, time.monotonic(), []
    while done < EVENTS:
        time.sleep(0.05)
        now_done = committed(consumer, topic, PARTITIONS)
        if now_done > done:
            done, progress_at = now_done, time.monotonic()
            progress.append((time.time(), done))
        elif time.monotonic() - progress_at > STALL_SECONDS or worker.poll() is not None:
            raise StalledError(f"committed offsets stopped at {done} of {EVENTS} events")
    return time.time(), cpu_seconds(worker.pid) - cpu_start, progress


def sustained_rate(progress: Progress) -> float:
    """Events/s while the committed offsets went from 10% to 90% of the events."""
    start_at, start = next(sample for sample in progress if sample[1] >= EVENTS // 10)
    end_at, end = next(sample for sample in progress if sample[1] >= EVENTS * 9 // 10)
    return (end - start) / (end_at - start_at)


def first_timestamp(broker: KafkaBroker, topic: str) -> float:
    """The earliest timestamp (seconds) among the first messages of ``topic``'s partitions."""
    consumer = Consumer(broker.client_config({"group.id": f"bench-{uuid.uuid4().hex[:8]}"}))
    partitions = broker.admin().list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    firsts: dict[int, int] = {}
    deadline = time.monotonic() + 30
    while len(firsts) < len(partitions) and time.monotonic() < deadline:
        for message in consumer.consume(500, 0.2):
            if message.error() is None:
                firsts.setdefault(message.partition(), message.timestamp()[1])
    consumer.close()
    return min(firsts.values()) / 1000


def trigger_keys(broker: KafkaBroker, topic: str, expected: int) -> set[str]:
    """Idempotency keys of the messages on the trigger topic."""
    consumer = Consumer(broker.client_config({"group.id": f"bench-{uuid.uuid4().hex[:8]}"}))
    partitions = broker.admin().list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    keys: set[str] = set()
    quiet_until = time.monotonic() + 3
    while time.monotonic() < quiet_until and len(keys) < expected:
        for message in consumer.consume(1000, 0.2):
            quiet_until = time.monotonic() + 3
            keys.update(v.decode() for k, v in message.headers() or () if k == "idempotency_key")
    consumer.close()
    return keys


def minimal_loop_command(broker: KafkaBroker, names: dict[str, str], hook: str) -> list[str]:
    """The command line of :mod:`minimal_loop` for the run's topics and services."""
    options = {
        "bootstrap": broker.bootstrap_servers,
        "api": names["api"],
        "token": SIMULATOR_TOKEN,
        "hook": f"{hook}/hooks/photo",
        "template": TEMPLATE,
        "group": names["group"],
        **{key: names[key] for key in ("pending", "enriched", "downloads", "triggers")},
    }
    return [sys.executable, str(MINIMAL_LOOP), json.dumps(options)]


def run(
    broker: KafkaBroker,
    api: str,
    hook: str,
    record: Path,
    *,
    minimal: bool = False,
    tables: bool = False,
    profile: Path | None = None,
    cpu: int | None = None,
) -> dict[str, Any]:
    """One pipeline run of the worker (or, ``minimal``, of the minimal loop; with ``tables``,
    beside a table writer): events/s (wall clock and per CPU second of the process), ``lost``
    and, with ``tables``, the writer's CPU seconds meanwhile."""
    run_id = uuid.uuid4().hex[:8]
    names = {key: f"bench.pipeline.{run_id}.{key}" for key in TOPIC_KEYS} | {
        "retry_prefix": f"bench.pipeline.{run_id}.retry",
        "group": f"bench-{run_id}",
        "api": api,
    }
    topics = [
        names[k]
        for k in ("enriched", "downloads", "dlq", "actions_dlq", "actions_retry", "triggers")
    ]
    topics += [names["tables_dlq"]] if tables else []
    topics += [names["pending"], f"{names['retry_prefix']}.1s"]
    broker.create_topics([TopicSpec(name, PARTITIONS) for name in topics])
    records, matching = make_events()
    producer = Producer(broker.client_config({"linger.ms": 20, "batch.num.messages": 10_000}))
    for key, value in records:
        while True:
            try:
                producer.produce(names["pending"], value, key)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)
    watcher = Consumer(broker.client_config({"group.id": names["group"]}))
    writer_cpu: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
            config = write_files(Path(tmp), broker, names, hook, tables=tables)
            command = (
                minimal_loop_command(broker, names, hook)
                if minimal
                else [str(WORKER), "run", "--config", str(config)]
            )
            if tables:
                writer = stack.enter_context(tables_writer(config, Path(tmp) / "tables.log"))
                writer_start = cpu_seconds(writer.pid)
            log = Path(tmp) / "worker.log"
            finished, cpu_seconds_used, progress = run_worker(
                command, log, watcher, names["pending"], profile, cpu
            )
            if tables:
                writer_cpu["tables_writer_cpu_seconds"] = cpu_seconds(writer.pid) - writer_start
    finally:
        watcher.close()
    elapsed = finished - first_timestamp(broker, names["enriched"])
    hooks = {idempotency_key(event_id, INSTANCE, 1) for event_id in matching}
    published = {idempotency_key(event_id, INSTANCE, 0) for event_id in matching}
    delivered = {r.headers.get("idempotency-key") for r in load_record(record) if r.status == 200}
    arrived = trigger_keys(broker, names["triggers"], len(published))
    broker.delete_topics(topics)
    return {
        "value": round(sustained_rate(progress), 1),
        "drain_events_per_s": round(EVENTS / elapsed, 1),
        "events_per_cpu_second": round(EVENTS / cpu_seconds_used, 1),
        "lost": len(hooks - delivered) + len(published - arrived),
    } | {key: round(seconds, 2) for key, seconds in writer_cpu.items()}


def measure(
    broker: KafkaBroker, api: str, receiver_args: tuple[str, ...], **options: Any
) -> dict[str, Any]:
    """:func:`run` (with ``options``) against a webhook receiver process started with
    ``receiver_args``; a stalled run is reported with value 0 and its error."""
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "webhooks.jsonl"
        args = ("--record", str(record), *receiver_args)
        with service("claimx_worker.testing.webhooks", *args) as hook:
            try:
                return run(broker, api, hook, record, **options)
            except StalledError as exc:
                return {"value": 0.0, "error": str(exc)}


def combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure of several runs: the mean ``value``, ``drain_events_per_s`` and
    ``events_per_cpu_second`` (those of every run in ``rounds``), the sum of ``lost``, the first
    ``error``."""
    figures = {
        key: round(statistics.fmean(run.get(key, 0.0) for run in runs), 1)
        for key in ("value", "drain_events_per_s", "events_per_cpu_second")
    }
    errors = [run["error"] for run in runs if "error" in run]
    return (
        figures
        | {
            "lost": sum(run.get("lost", 0) for run in runs),
            "rounds": [run.get("events_per_cpu_second", 0.0) for run in runs],
        }
        | ({"error": errors[0]} if errors else {})
    )


def main() -> None:
    profile = os.environ.get(PROFILE_VARIABLE)
    cpu = worker_cpu() if profile else None  # before the broker and services start
    with (
        open_kafka_broker() as broker,
        service("claimx_worker.testing.claimx_api", "--port", "0") as api,
    ):
        measure(broker, api, ())  # warm-up: a fresh broker spends seconds of CPU on its first run
        if profile:  # nox -s profile: one sampled run of the worker, nothing reported
            measure(broker, api, (), profile=Path(profile), cpu=cpu)
            return
        rounds = [
            (measure(broker, api, (), minimal=True), measure(broker, api, ()))
            for _ in range(FLOOR_ROUNDS)
        ]
        floor = combined([floor_run for floor_run, _ in rounds])
        fast = combined([worker_run for _, worker_run in rounds])
        slow = measure(broker, api, ("--delay", str(SLOW_SECONDS)))
        beside = measure(broker, api, (), tables=True)
    common = {"unit": "events/s", "events": EVENTS}
    ratio = slow["value"] / fast["value"] if fast["value"] else 0.0
    floor_cpu = floor.get("events_per_cpu_second", 0.0)
    e2e_ratio = fast.get("events_per_cpu_second", 0.0) / floor_cpu if floor_cpu else 0.0
    fast_cpu = fast.get("events_per_cpu_second", 0.0)
    beside_ratio = beside.get("events_per_cpu_second", 0.0) / fast_cpu if fast_cpu else 0.0
    results = [
        {"name": "pipeline_minimal_loop", **floor, **common},
        {
            "name": "pipeline_e2e",
            **fast,
            **common,
            "target": TARGET_EVENTS_PER_S,
            "target_events_per_cpu_second": TARGET_EVENTS_PER_CPU_SECOND,
            "baseline": floor_cpu,
            "ratio": round(e2e_ratio, 3),
            "target_ratio": TARGET_FLOOR_RATIO,
        },
        {
            "name": "pipeline_slow_webhook",
            **slow,
            **common,
            "baseline": fast["value"],
            "ratio": round(ratio, 3),
            "target_ratio": TARGET_RATIO,
            "webhook_seconds": SLOW_SECONDS,
        },
        {
            "name": "pipeline_e2e_with_tables_writer",
            **beside,
            **common,
            "baseline": fast_cpu,
            "ratio": round(beside_ratio, 3),
            "target_ratio": TARGET_TABLES_RATIO,
        },
    ]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
