"""A real worker run, observed as operators do: /metrics series move, /readyz flips when the broker
goes away, JSON log lines parse, and no secret reaches the output."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from claimx_worker.testing.claimx_api import ClaimXApiSimulator
from claimx_worker.testing.kafka import LocalKafkaBroker
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.e2e.support import (
    DAMAGE,
    DAMAGE_PATH,
    PHOTO_PATH,
    Topics,
    WorkerProcess,
    committed_lag,
    deploy,
    produce,
    task_events,
    trigger_config,
)

pytestmark = pytest.mark.kafka

SECRET = "observability-test-token-4711"


@pytest.fixture
def own_broker() -> Iterator[LocalKafkaBroker]:
    """A broker of this test's own, since the test stops it."""
    with LocalKafkaBroker() as broker:
        yield broker


def samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a /metrics scrape, by name and labels."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    scrape: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in scrape.items() if n == name and wanted <= ls)


def wait_until(condition: Callable[[], bool], what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def metrics_url(worker: WorkerProcess) -> str:
    worker.wait_for_log("Serving /metrics")
    for line in worker.output().splitlines():
        if "Serving /metrics" in line:
            port = json.loads(line)["url"].rsplit(":", 1)[1]
            return f"http://127.0.0.1:{port}"
    raise AssertionError("no metrics URL in the worker's log")


def test_metrics_move_readiness_flips_and_logs_stay_json_and_secret_free(
    own_broker: LocalKafkaBroker, tmp_path: Path
) -> None:
    topics = Topics.unique()
    topics.create(own_broker, partitions=3)
    own_broker.create_topics(f"{topics.pending}.triggers", partitions=3)
    with ClaimXApiSimulator(seed=3) as api, WebhookReceiver() as receiver:
        deployment = deploy(
            tmp_path,
            broker=own_broker,
            topics=topics,
            api_url=api.base_url,
            trigger=trigger_config(
                f"{topics.pending}.triggers",
                receiver.url(PHOTO_PATH),
                receiver.url(DAMAGE_PATH),
                headers={"Authorization": "Bearer ${WEBHOOK_TOKEN}"},
            ),
        )
        worker = WorkerProcess(deployment.config, {"LOG_FORMAT": "json", "WEBHOOK_TOKEN": SECRET})
        try:
            url = metrics_url(worker)
            wait_until(lambda: httpx.get(f"{url}/readyz").status_code == 200, "/readyz 200")
            before = samples(url)
            events = task_events(
                20, prefix="obs", template=DAMAGE, event_type="CUSTOM_TASK_ASSIGNED"
            )
            produce(own_broker, topics.pending, [event.message() for event in events])
            wait_until(
                lambda: (
                    sum(committed_lag(own_broker, deployment.group, topics.pending).values()) == 0
                    and len(receiver.requests) >= len(events)
                ),
                "every event committed and every webhook received",
            )
            after = samples(url)

            hook = {"instance": "task_trigger", "hook": "on_enrichment_complete"}
            calls = value(after, "claimx_plugin_calls_total", **hook)
            assert calls - value(before, "claimx_plugin_calls_total", **hook) == len(events)
            delivered = {"type": "webhook", "outcome": "delivered"}
            assert value(after, "claimx_actions_total", **delivered) - value(
                before, "claimx_actions_total", **delivered
            ) == len(events)
            assert value(after, "claimx_plugin_damage_assessment_tasks_total") == len(events)
            trigger = {"instance": "task_trigger", "trigger": "Damage Assessment"}
            assert value(after, "claimx_action_latency_seconds_count", **trigger) == len(events)
            assert value(after, "claimx_oldest_pending_action_age_seconds") == 0
            wait_until(
                lambda: (
                    value(samples(url), "claimx_consumer_lag", topic=topics.pending) == 0
                    and value(samples(url), "claimx_partitions_assigned") > 0
                ),
                "the lag sampled at 0",
            )

            own_broker.stop()
            wait_until(lambda: httpx.get(f"{url}/readyz").status_code == 503, "/readyz 503")
            failing = httpx.get(f"{url}/readyz").json()["failing"]
            assert "broker_reachable" in failing
            assert httpx.get(f"{url}/healthz").status_code == 200  # the process itself is fine
        finally:
            worker.kill()

    output = worker.output()
    assert SECRET not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) > 20
    for line in lines:
        record = json.loads(line)  # every line is one JSON object
        assert {"time", "level", "message"} <= record.keys()
    assert all(
        request.headers.get("authorization") == f"Bearer {SECRET}" for request in receiver.requests
    )
