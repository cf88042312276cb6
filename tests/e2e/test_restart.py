"""Stopping ``claimx-worker run``: SIGKILL mid-run and a restart deliver every trigger at least
once with stable idempotency keys; SIGTERM drains, commits and unloads the plugins."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path

import pytest

from claimx_worker.model import EventType
from claimx_worker.testing.claimx_api import ClaimXApiSimulator
from claimx_worker.testing.kafka import KafkaBroker
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.e2e.support import (
    DAMAGE,
    DAMAGE_PATH,
    PHOTO,
    PHOTO_PATH,
    UNKNOWN_TYPE,
    DeployScenario,
    StartWorker,
    Topics,
    TopicTail,
    committed_lag,
    expected_actions,
    mixed_events,
    produce,
    task_events,
    wait_committed,
    write_yaml,
)

pytestmark = pytest.mark.kafka

UNLOAD_PLUGIN = """\
import os
from pathlib import Path

from claimx_worker import hookimpl


class UnloadMarker:
    @hookimpl
    def on_unload(self, instance_name: str) -> None:
        Path(os.environ["E2E_UNLOAD_MARKER"]).write_text(instance_name)
"""


def test_sigkill_mid_run_then_restart_delivers_every_trigger_with_stable_keys(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    webhook_receiver: WebhookReceiver,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
) -> None:
    completed, assigned = EventType.CUSTOM_TASK_COMPLETED, EventType.CUSTOM_TASK_ASSIGNED
    events = [
        event
        for trio in zip(
            task_events(100, prefix="photo", template=PHOTO, event_type=completed),
            task_events(100, prefix="damage-a", template=DAMAGE, event_type=assigned),
            task_events(100, prefix="damage-c", template=DAMAGE, event_type=completed),
            strict=True,
        )
        for event in trio
    ]
    actions = expected_actions(events)
    hooks = {a.idempotency_key: a for a in actions if a.kind == "webhook"}
    publishes = {a.idempotency_key: a for a in actions if a.kind == "publish"}
    deployment = deploy_scenario(
        processing={"max_in_flight": 40},
    )
    claimx_api.knobs.latency_seconds = 0.02  # slow enough to be killed mid-run
    for path in (PHOTO_PATH, DAMAGE_PATH):
        webhook_receiver.behave(path, delay=0.2)  # calls in flight when it dies
    produce(kafka_broker, topics.pending, [e.message() for e in events])

    first = start_worker(deployment.config, {}, name="first")
    webhook_receiver.wait_until(lambda: len(webhook_receiver.requests) >= 40, 60)
    first.alive()
    first.kill()
    before = len(webhook_receiver.requests)
    assert before < len(hooks), "the worker finished before it was killed"

    second = start_worker(deployment.config, {}, name="second")
    with TopicTail(kafka_broker, topics.triggers) as triggers:
        webhook_receiver.wait_until(
            lambda: (
                {r.headers["idempotency-key"] for r in webhook_receiver.requests} >= hooks.keys()
            ),
            timeout=90,
        )
        triggers.wait_for(
            lambda r: {m.headers["idempotency_key"] for m in r} >= publishes.keys(),
            60,
            what="every trigger message",
        )
        wait_committed(kafka_broker, deployment.group, topics.pending)
        messages = triggers.settle(0.5)
    assert second.terminate() == 0, second.output()[-3000:]

    # Whatever was delivered twice carries the same keys both times: the receiver can dedupe.
    webhook_keys: dict[tuple[str, str], set[str]] = defaultdict(set)
    for request in webhook_receiver.requests:
        assert request.status == 200
        assert request.headers["webhook-id"] == request.headers["idempotency-key"]
        webhook_keys[request.json()["event_id"], request.path].add(
            request.headers["idempotency-key"]
        )
    assert webhook_keys == {(a.event.event_id, a.path): {key} for key, a in hooks.items()}
    message_keys: dict[str, set[str]] = defaultdict(set)
    for message in messages:
        message_keys[message.json()["event_id"]].add(message.headers["idempotency_key"])
    assert message_keys == {a.event.event_id: {key} for key, a in publishes.items()}


def test_after_a_kill_a_restarted_worker_processes_every_partition_within_10_s(
    kafka_broker: KafkaBroker,
    topics: Topics,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
) -> None:
    """With the default consumer settings (no session timeout configured). Measured from the
    moment the new worker's runtime starts (it subscribes then), so that the interpreter's own
    start-up on a loaded machine does not count: what the group settings decide is how long
    the dead worker's partitions stay out of reach after that (45 s with librdkafka's defaults).
    """
    deployment = deploy_scenario()
    first = start_worker(deployment.config, {}, name="first")
    warm = task_events(
        30, prefix="warm", template=DAMAGE, event_type=EventType.CUSTOM_TASK_ASSIGNED
    )
    after = task_events(
        30,
        prefix="after",
        template=DAMAGE,
        event_type=EventType.CUSTOM_TASK_ASSIGNED,
        project=5000,
    )
    produce(kafka_broker, topics.pending, [e.message() for e in warm])
    with TopicTail(kafka_broker, topics.enriched) as enriched:
        enriched.wait_for(lambda r: len(r) >= len(warm), 60, what="warm-up rows", worker=first)
        killed = time.monotonic()
        first.kill()
        second = start_worker(deployment.config, {}, name="second")
        produce(kafka_broker, topics.pending, [e.message() for e in after])
        second.wait_for_log("Kafka runtime started")
        started = time.monotonic()
        wanted = {e.event_id for e in after}
        enriched.wait_for(lambda r: wanted <= {x.json()["event_id"] for x in r}, 60, worker=second)
        processing = time.monotonic()
    with TopicTail(kafka_broker, topics.pending) as pending:
        placed = {r.partition for r in pending.settle(0.2) if r.json()["event_id"] in wanted}
    assert placed == {0, 1, 2}  # the events after the kill went to every partition
    print(
        f"kill -9 to every partition processing again: {processing - killed:.2f} s, "
        f"of which the new process's start: {started - killed:.2f} s"
    )
    assert processing - started < 10.0, f"partitions back {processing - started:.1f} s after"
    assert second.terminate() == 0, second.output()[-3000:]


def test_sigterm_drains_commits_and_unloads_plugins(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    webhook_receiver: WebhookReceiver,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    events = mixed_events(600, prefix="stop", projects=60)
    hooks = {a.idempotency_key: a for a in expected_actions(events) if a.kind == "webhook"}
    deployment = deploy_scenario(
        processing={"max_in_flight": 50, "batch_size": 50},
    )
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "e2e_unload_plugin.py").write_text(UNLOAD_PLUGIN)
    write_yaml(
        tmp_path / "plugins" / "marker" / "config.yaml",
        {"module": "e2e_unload_plugin", "class": "UnloadMarker"},
    )
    marker = tmp_path / "unloaded"
    claimx_api.knobs.latency_seconds = 0.02
    for path in (PHOTO_PATH, DAMAGE_PATH):
        webhook_receiver.behave(path, delay=0.5)  # calls in flight when the signal comes
    produce(kafka_broker, topics.pending, [e.message() for e in events])
    with TopicTail(kafka_broker, topics.pending) as pending:
        records = pending.wait_for(lambda r: len(r) == len(events), 30)
    placed = {r.json()["event_id"]: (r.partition, r.offset) for r in records}
    ends = {p: 1 + max(o for q, o in placed.values() if q == p) for p, _ in placed.values()}
    pythonpath = os.pathsep.join(filter(None, [str(modules), os.environ.get("PYTHONPATH")]))
    worker = start_worker(
        deployment.config, {"PYTHONPATH": pythonpath, "E2E_UNLOAD_MARKER": str(marker)}
    )

    with TopicTail(kafka_broker, topics.enriched) as enriched:
        enriched.wait_for(
            lambda r: len(r) >= 100, 60, what="a first part of the stream", worker=worker
        )
        assert worker.terminate() == 0, worker.output()[-3000:]
        written = {r.json()["event_id"] for r in enriched.settle(0.5)}

    output = worker.output()
    assert "Stopping: draining events" in output
    assert "Kafka runtime stopped" in output
    assert marker.read_text() == "marker"  # on_unload ran
    lag = committed_lag(kafka_broker, deployment.group, topics.pending)
    committed = {p: ends[p] - lag[p] for p in ends}
    done = {event_id for event_id, (p, offset) in placed.items() if offset < committed[p]}
    assert 100 <= len(done) < len(events), "not a mid-stream stop"
    # Everything below the committed offsets is done: rows written, webhooks answered.
    assert {e.event_id for e in events if e.event_type != UNKNOWN_TYPE} & done <= written
    answered = {r.headers["idempotency-key"] for r in webhook_receiver.requests if r.status == 200}
    assert {key for key, a in hooks.items() if a.event.event_id in done} <= answered
