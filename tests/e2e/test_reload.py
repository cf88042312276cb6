"""Reloading a running ``claimx-worker run`` (SIGHUP, ``claimx-worker reload``): a valid change
takes effect between events with nothing lost or doubled; an invalid one keeps the old
configuration and logs every problem; a removed instance gets ``on_unload``."""

from __future__ import annotations

import copy
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

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
    StartWorker,
    Topics,
    TopicTail,
    WorkerProcess,
    deploy,
    produce,
    run_cli,
    task_events,
    trigger_config,
    wait_committed,
    write_trigger_instance,
    write_yaml,
)
from tests.e2e.test_restart import UNLOAD_PLUGIN

pytestmark = pytest.mark.kafka


def _trigger(topics: Topics, receiver: WebhookReceiver, *, damage: bool) -> dict[str, Any]:
    """The scenario's trigger instance, with or without the Damage Assessment trigger."""
    config = trigger_config(topics.triggers, receiver.url(PHOTO_PATH), receiver.url(DAMAGE_PATH))
    if not damage:
        config = copy.deepcopy(config)
        del config["config"]["triggers"][DAMAGE]
    return config


def _reloads(worker: WorkerProcess, outcome: str) -> int:
    return worker.output().count(f"Configuration reload {outcome}")


def test_sighup_with_a_valid_change_mid_stream_fires_the_new_trigger_with_nothing_lost_or_doubled(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    webhook_receiver: WebhookReceiver,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    completed = EventType.CUSTOM_TASK_COMPLETED
    before = task_events(150, prefix="before", template=DAMAGE, event_type=completed)
    after = task_events(60, prefix="after", template=DAMAGE, event_type=completed, project=5000)
    deployment = deploy(
        tmp_path,
        broker=kafka_broker,
        topics=topics,
        api_url=claimx_api.base_url,
        trigger=_trigger(topics, webhook_receiver, damage=False),
        processing={"max_in_flight": 20},
    )
    claimx_api.knobs.latency_seconds = 0.01  # events in flight while the signal comes
    worker = start_worker(deployment.config)
    worker.wait_for_log("Kafka runtime started")
    produce(kafka_broker, topics.pending, [e.message() for e in before])

    with TopicTail(kafka_broker, topics.enriched) as enriched:
        enriched.wait_for(lambda r: len(r) >= 20, 60, what="a first part", worker=worker)
        write_trigger_instance(
            tmp_path / "plugins", _trigger(topics, webhook_receiver, damage=True)
        )
        worker.process.send_signal(signal.SIGHUP)
        worker.wait_for_log("Configuration reload succeeded")
        produce(kafka_broker, topics.pending, [e.message() for e in after])
        enriched.wait_for(
            lambda r: len(r) >= len(before) + len(after), 90, what="every row", worker=worker
        )
        wait_committed(kafka_broker, deployment.group, topics.pending)
        rows = Counter(r.json()["event_id"] for r in enriched.settle(0.5))
    with TopicTail(kafka_broker, topics.triggers) as triggers:
        fired = Counter(r.json()["event_id"] for r in triggers.settle(0.5))

    worker.alive()
    assert rows == Counter(e.event_id for e in [*before, *after])  # none lost, none doubled
    assert {e.event_id for e in after} <= fired.keys()  # the new trigger fires after the reload
    assert set(fired.values()) == {1}
    assert len(fired.keys() & {e.event_id for e in before}) < len(before), "not mid-stream"
    output = worker.output()
    assert "Plugin instance unloaded | instance=task_trigger reason=changed" in output
    assert "Plugin instance loaded | instance=task_trigger reason=changed" in output
    assert worker.terminate() == 0, output[-3000:]


def test_an_invalid_change_keeps_the_old_configuration_and_logs_every_problem(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    webhook_receiver: WebhookReceiver,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    completed = EventType.CUSTOM_TASK_COMPLETED
    events = task_events(12, prefix="kept", template=PHOTO, event_type=completed)
    trigger = _trigger(topics, webhook_receiver, damage=True)
    deployment = deploy(
        tmp_path,
        broker=kafka_broker,
        topics=topics,
        api_url=claimx_api.base_url,
        trigger=trigger,
    )
    pid_file = tmp_path / "worker.pid"
    worker = start_worker(deployment.config, {"CLAIMX_WORKER_CONTROL__PID_FILE": str(pid_file)})
    worker.wait_for_log("Kafka runtime started")
    broken = copy.deepcopy(trigger)
    broken["config"]["triggers"][PHOTO]["on_completed"]["webhok"] = {"url": "http://x"}
    broken["priorty"] = 3
    config_file = write_trigger_instance(tmp_path / "plugins", broken)

    reloaded = run_cli("reload", "--pid-file", str(pid_file), env={})
    assert reloaded.returncode == 0, reloaded.stderr
    worker.wait_for_log("Configuration reload failed")
    produce(kafka_broker, topics.pending, [e.message() for e in events])
    webhook_receiver.wait_until(
        lambda: sum(r.path == PHOTO_PATH for r in webhook_receiver.requests) >= len(events), 60
    )

    worker.alive()
    output = worker.output()
    assert f"{config_file}:" in output
    assert "key=priorty" in output
    assert "key=config.triggers.456.on_completed.webhok" in output
    assert _reloads(worker, "succeeded") == 0
    assert worker.terminate() == 0, output[-3000:]
    assert not pid_file.exists()


def test_a_removed_instance_gets_on_unload(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    webhook_receiver: WebhookReceiver,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    deployment = deploy(
        tmp_path,
        broker=kafka_broker,
        topics=topics,
        api_url=claimx_api.base_url,
        trigger=_trigger(topics, webhook_receiver, damage=True),
    )
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "e2e_reload_unload.py").write_text(UNLOAD_PLUGIN)
    marker_config = write_yaml(
        tmp_path / "plugins" / "marker" / "config.yaml",
        {"module": "e2e_reload_unload", "class": "UnloadMarker"},
    )
    marker = tmp_path / "unloaded"
    pythonpath = os.pathsep.join(filter(None, [str(modules), os.environ.get("PYTHONPATH")]))
    worker = start_worker(
        deployment.config, {"PYTHONPATH": pythonpath, "E2E_UNLOAD_MARKER": str(marker)}
    )
    worker.wait_for_log("Kafka runtime started")

    marker_config.unlink()
    marker_config.parent.rmdir()
    worker.process.send_signal(signal.SIGHUP)
    worker.wait_for_log("Configuration reload succeeded")

    assert marker.read_text() == "marker"
    output = worker.output()
    assert "Plugin instance unloaded | instance=marker reason=removed" in output
    assert "instance=task_trigger" not in output.partition("Configuration reload")[2]
    assert worker.terminate() == 0, output[-3000:]
