"""Quarantine through ``claimx-worker run``: an instance raising on every call is quarantined and
restored (policies ``skip`` and ``hold``), and a synchronous hook sleeping 60 s does not stop the
worker."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from ruamel.yaml import YAML

from claimx_worker.model import EventType
from claimx_worker.testing.kafka import KafkaBroker
from tests.e2e.support import (
    DAMAGE,
    UNTRIGGERED,
    DeployScenario,
    SentEvent,
    StartWorker,
    Topics,
    TopicTail,
    WorkerProcess,
    produce,
    task_events,
    wait_committed,
    write_yaml,
)
from tests.e2e.test_plugin_isolation import ENV, write_misbehaving

pytestmark = pytest.mark.kafka

COMPLETED = EventType.CUSTOM_TASK_COMPLETED
_METRICS_URL = re.compile(r"Serving /metrics.* url=http://[^:\s]+:(\d+)")


def add_plugin_settings(config: Path, plugins: dict[str, Any]) -> None:
    """Add a ``plugins:`` section to the settings file ``config``."""
    yaml = YAML()
    settings = yaml.load(config.read_text())
    settings["plugins"] = plugins
    with config.open("w") as stream:
        yaml.dump(settings, stream)


def write_flaky(plugins_dir: Path, policy: str) -> None:
    """Instance ``flaky``: raises for events whose id starts with ``bad``."""
    write_yaml(
        plugins_dir / "flaky" / "config.yaml",
        {
            "module": "claimx_test_plugins",
            "class": "FlakyPlugin",
            "priority": 10,
            "quarantine_policy": policy,
        },
    )


def served(worker: WorkerProcess, path: str) -> httpx.Response:
    """``GET path`` on the worker's metrics server."""
    match = _METRICS_URL.search(worker.output())
    assert match is not None
    return httpx.get(f"http://127.0.0.1:{match.group(1)}{path}", timeout=5)


def instance_status(worker: WorkerProcess, name: str) -> dict[str, Any]:
    """The instance ``name`` as ``/status`` shows it."""
    (found,) = [i for i in served(worker, "/status").json()["plugins"] if i["name"] == name]
    return dict(found)


def metric(worker: WorkerProcess, name: str, labels: dict[str, str]) -> float | None:
    text = served(worker, "/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def events_of(prefix: str, count: int, template: int = UNTRIGGERED) -> list[SentEvent]:
    """``count`` task-completed events of ``template``, ids ``<prefix>-NNNN``."""
    return task_events(count, prefix=prefix, template=template, event_type=COMPLETED)


def test_skip_an_instance_raising_on_every_call_is_quarantined_skipped_and_restored(
    kafka_broker: KafkaBroker,
    topics: Topics,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    deployment = deploy_scenario()
    add_plugin_settings(deployment.config, {"quarantine": {"min_calls": 4, "cooldown_seconds": 4}})
    write_flaky(tmp_path / "plugins", "skip")
    bad, during, after = events_of("bad", 6), events_of("during", 5), events_of("after", 5)
    worker = start_worker(deployment.config, ENV)
    worker.wait_for_log("Kafka runtime started")

    with TopicTail(kafka_broker, topics.enriched) as enriched:
        produce(kafka_broker, topics.pending, [e.message() for e in bad])
        worker.wait_for_log("Plugin instance quarantined | instance=flaky")
        produce(kafka_broker, topics.pending, [e.message() for e in during])
        enriched.wait_for(lambda r: len(r) >= 11, 60, what="rows", worker=worker)
        assert metric(worker, "claimx_plugin_quarantined", {"instance": "flaky"}) == 1
        flaky = instance_status(worker, "flaky")
        assert flaky["state"] == "quarantined"
        assert flaky["errors"] >= 4
        assert flaky["quarantine_policy"] == "skip"
        time.sleep(4.5)  # the cooldown
        produce(kafka_broker, topics.pending, [e.message() for e in after])
        worker.wait_for_log("Plugin instance restored | instance=flaky")
        enriched.wait_for(lambda r: len(r) >= 16, 60, what="rows", worker=worker)
        wait_committed(kafka_broker, deployment.group, topics.pending)
        rows = Counter(r.json()["event_id"] for r in enriched.settle(0.5))

    assert rows == Counter(e.event_id for e in [*bad, *during, *after])
    output = worker.output()
    assert not any(f"flaky went through {e.event_id}" in output for e in during)
    assert all(f"flaky went through {e.event_id}" in output for e in after)
    skips = metric(worker, "claimx_plugin_quarantine_skips_total", {"instance": "flaky"})
    assert skips is not None
    assert skips >= len(during)
    assert metric(worker, "claimx_plugin_quarantined", {"instance": "flaky"}) == 0
    status = served(worker, "/status").json()
    flaky = instance_status(worker, "flaky")
    assert flaky["state"] == "loaded"
    assert flaky["skipped"] == skips
    assert flaky["mode"] == "live"
    assert len(status["config"]["hash"]) == 12
    assert status["config"]["last_reload"] is None
    assigned = {(p["topic"], p["partition"]) for p in status["partitions"]}
    assert {(topics.pending, partition) for partition in range(3)} <= assigned
    assert worker.terminate() == 0, output[-3000:]


def test_hold_events_wait_on_the_retry_path_and_run_once_the_instance_is_back(
    kafka_broker: KafkaBroker,
    topics: Topics,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    deployment = deploy_scenario()
    # a cooldown longer than all the retry delays together (1 s + 2 s): a held event spends
    # no retry while the instance is quarantined, so it waits as long as the quarantine lasts
    add_plugin_settings(deployment.config, {"quarantine": {"min_calls": 4, "cooldown_seconds": 5}})
    write_flaky(tmp_path / "plugins", "hold")
    bad = events_of("bad", 6)
    held = events_of("held", 6, template=DAMAGE)  # each publishes one trigger message
    worker = start_worker(deployment.config, ENV)
    worker.wait_for_log("Kafka runtime started")

    with TopicTail(kafka_broker, topics.enriched) as enriched:
        produce(kafka_broker, topics.pending, [e.message() for e in bad])
        worker.wait_for_log("Plugin instance quarantined | instance=flaky")
        produce(kafka_broker, topics.pending, [e.message() for e in held])
        worker.wait_for_log("Plugin instance restored | instance=flaky", timeout=60)
        enriched.wait_for(lambda r: len(r) >= 12, 60, what="rows", worker=worker)
        wait_committed(kafka_broker, deployment.group, topics.pending)
        rows = Counter(r.json()["event_id"] for r in enriched.settle(0.5))
    with TopicTail(kafka_broker, topics.triggers) as triggers:
        fired = Counter(r.json()["event_id"] for r in triggers.settle(0.5))
    with TopicTail(kafka_broker, topics.dlq) as dlq:
        dead = dlq.settle(0.2)
    retried = f"{topics.retry_prefix}.1s"
    with TopicTail(kafka_broker, retried) as retry:
        waited = {r.json()["event_id"] for r in retry.settle(0.2)}

    assert dead == []
    assert rows == Counter(e.event_id for e in [*bad, *held])
    assert fired == Counter(e.event_id for e in held)  # each trigger once
    assert waited & {e.event_id for e in held}, "no event waited on the retry path"
    assert waited <= {e.event_id for e in [*bad, *held]}
    output = worker.output()
    assert all(f"flaky went through {e.event_id}" in output for e in held)
    assert worker.terminate() == 0, output[-3000:]


def test_a_sync_hook_sleeping_60_s_does_not_stop_the_worker(
    kafka_broker: KafkaBroker,
    topics: Topics,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    events = events_of("sleepy", 30)
    deployment = deploy_scenario(processing={"plugin_timeout_ms": 1000})
    write_misbehaving(
        tmp_path / "plugins",
        "sleeps",
        "MisbehavingPlugin",
        ["on_enrichment_complete"],
        sleep_seconds=60,
        event_id=events[0].event_id,
    )
    worker = start_worker(deployment.config, ENV)
    worker.wait_for_log("Kafka runtime started")

    start = time.monotonic()
    produce(kafka_broker, topics.pending, [e.message() for e in events])
    with TopicTail(kafka_broker, topics.enriched) as enriched:
        enriched.wait_for(lambda r: len(r) >= len(events), 20, what="rows", worker=worker)
    took = time.monotonic() - start

    assert took < 20
    output = worker.output()
    assert (
        "ERROR: Plugin hook hung; interrupted, its instance quarantined | instance=sleeps "
        f"hook=on_enrichment_complete kind=timeout event_id={events[0].event_id}"
    ) in output
    assert (
        "WARNING: Plugin instance quarantined | instance=sleeps reason=a hook call hung" in output
    )
    wait_committed(kafka_broker, deployment.group, topics.pending)
    assert worker.terminate() == 0, output[-3000:]
