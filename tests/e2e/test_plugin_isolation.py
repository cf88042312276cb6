"""A plugin's failure stays its own, through ``claimx-worker run``: hooks raising
``CancelledError`` and calling ``sys.exit(3)`` neither stop the worker nor hold an offset, and an
``on_load`` that hangs stops start-up at the lifecycle budget."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from claimx_worker.model import EventType
from claimx_worker.testing.kafka import KafkaBroker
from tests.e2e.support import (
    REPO,
    UNTRIGGERED,
    DeployScenario,
    StartWorker,
    Topics,
    TopicTail,
    by_event,
    produce,
    task_events,
    wait_committed,
    write_yaml,
)

PLUGIN_FIXTURES = REPO / "tests" / "fixtures" / "plugin_host"
"""Holds ``claimx_test_plugins`` (its ``MisbehavingPlugin`` classes), put on the worker's path."""
ENV = {"PYTHONPATH": str(PLUGIN_FIXTURES)}
_METRICS_URL = re.compile(r"Serving /metrics.* url=http://[^:\s]+:(\d+)")


def write_misbehaving(
    plugins_dir: Path, name: str, cls: str, hooks: list[str], **config: Any
) -> None:
    """An instance ``name`` of a fixture plugin that misbehaves in ``hooks``."""
    write_yaml(
        plugins_dir / name / "config.yaml",
        {
            "module": "claimx_test_plugins",
            "class": cls,
            "priority": 10,
            "config": {"hooks": hooks, **config},
        },
    )


def plugin_errors(metrics_port: str) -> dict[tuple[str, str, str], float]:
    """``claimx_plugin_errors_total`` by (instance, hook, kind), scraped from /metrics."""
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    return {
        (sample.labels["instance"], sample.labels["hook"], sample.labels["kind"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "claimx_plugin_errors"
        for sample in family.samples
        if sample.name == "claimx_plugin_errors_total"
    }


@pytest.mark.kafka
def test_hooks_raising_cancelled_error_and_sys_exit_neither_stop_the_worker_nor_hold_offsets(
    kafka_broker: KafkaBroker,
    topics: Topics,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    events = task_events(
        9, prefix="iso", template=UNTRIGGERED, event_type=EventType.CUSTOM_TASK_COMPLETED
    )
    cancelled, exited = events[1], events[4]
    deployment = deploy_scenario()
    plugins = tmp_path / "plugins"
    write_misbehaving(
        plugins,
        "cancels",
        "AsyncMisbehavingPlugin",
        ["on_enrichment_complete"],
        raises="cancelled",
        event_id=cancelled.event_id,
    )
    write_misbehaving(
        plugins,
        "exits",
        "MisbehavingPlugin",
        ["on_event_received"],
        raises="exit",
        event_id=exited.event_id,
    )
    produce(kafka_broker, topics.pending, [event.message() for event in events])

    worker = start_worker(deployment.config, ENV)

    with TopicTail(kafka_broker, topics.enriched) as enriched:
        enriched.wait_for(
            lambda records: len(by_event(records)) == len(events), 60, what="rows", worker=worker
        )
    wait_committed(kafka_broker, deployment.group, topics.pending)
    worker.alive()
    match = _METRICS_URL.search(worker.output())
    assert match is not None, worker.output()[-3000:]
    errors = plugin_errors(match.group(1))
    assert errors[("cancels", "on_enrichment_complete", "exception")] == 1
    assert errors[("exits", "on_event_received", "exception")] == 1
    output = worker.output()
    assert (
        "ERROR: Plugin hook raised; ignored | instance=cancels hook=on_enrichment_complete "
        f"kind=exception event_id={cancelled.event_id} event_type=CUSTOM_TASK_COMPLETED "
        "error=CancelledError: raised by the plugin itself\n"
    ) in output
    assert (
        "ERROR: Plugin hook raised; ignored | instance=exits hook=on_event_received "
        f"kind=exception event_id={exited.event_id} event_type=CUSTOM_TASK_COMPLETED "
        "error=SystemExit: 3\n"
    ) in output
    assert worker.terminate() == 0, output[-3000:]


def test_an_on_load_that_hangs_stops_start_up_at_the_lifecycle_budget_with_exit_2(
    start_worker: StartWorker, tmp_path: Path
) -> None:
    plugins = tmp_path / "plugins"
    write_misbehaving(plugins, "hangs", "AsyncMisbehavingPlugin", ["on_load"], sleep_seconds=3600)
    settings = write_yaml(
        tmp_path / "worker.yaml",
        {
            "kafka": {
                "bootstrap_servers": "127.0.0.1:9",  # never reached: start-up stops first
                "claimx": {
                    "enrichment_worker": {
                        "processing": {
                            "plugins_dir": str(plugins),
                            "plugin_lifecycle_timeout_seconds": 0.5,
                        }
                    }
                },
            },
            "metrics": {"port": 0},
        },
    )

    worker = start_worker(settings, ENV)

    assert worker.process.wait(60) == 2
    output = worker.output()
    assert output.endswith(
        f"{plugins}/hangs/config.yaml:1: on_load of instance 'hangs' did not finish within its "
        "0.5 s budget (processing.plugin_lifecycle_timeout_seconds); cancelled\n"
        "Invalid configuration: 1 problem.\n"
    ), output[-3000:]
    assert "Traceback" not in output
