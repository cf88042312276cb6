"""Shadow mode through ``claimx-worker run``: a shadow instance's actions reach neither its
webhook receiver nor its topic; the shadow topic holds exactly what would have been sent
(destination, headers with secrets masked, payload, idempotency key), and a reload switches the
instance to live."""

from __future__ import annotations

import copy
import signal
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from claimx_worker.actions import idempotency_key
from claimx_worker.model import EventType
from claimx_worker.testing.kafka import KafkaBroker, TopicSpec
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.e2e.support import (
    DAMAGE,
    PHOTO,
    DeployScenario,
    StartWorker,
    Topics,
    TopicTail,
    expected_actions,
    produce,
    task_events,
    trigger_config,
    wait_committed,
    write_yaml,
)
from tests.e2e.test_quarantine import add_plugin_settings, metric

pytestmark = pytest.mark.kafka

SHADOW = "shadow_trigger"
SHADOW_PHOTO, SHADOW_DAMAGE = "/hooks/shadow-photo", "/hooks/shadow-damage"
TOKEN = "shadow-secret-token-0123456789"


def _without_timestamp(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if key != "timestamp"}


def test_a_shadow_instance_records_exactly_what_it_would_send_and_delivers_nothing(
    kafka_broker: KafkaBroker,
    topics: Topics,
    webhook_receiver: WebhookReceiver,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    completed, assigned = EventType.CUSTOM_TASK_COMPLETED, EventType.CUSTOM_TASK_ASSIGNED
    events = [
        *task_events(4, prefix="photo", template=PHOTO, event_type=completed),
        *task_events(4, prefix="damage", template=DAMAGE, event_type=assigned, project=2100),
    ]
    shadow_topic, shadow_destination = f"{topics.pending}.shadow", f"{topics.triggers}.shadow"
    kafka_broker.create_topics([TopicSpec(shadow_topic, 1), TopicSpec(shadow_destination, 1)])
    deployment = deploy_scenario()
    add_plugin_settings(deployment.config, {"shadow_topic": shadow_topic})
    shadow = trigger_config(
        shadow_destination,
        webhook_receiver.url(SHADOW_PHOTO),
        webhook_receiver.url(SHADOW_DAMAGE),
        headers={"Authorization": "Bearer ${SHADOW_TOKEN}"},
    )
    shadow |= {"name": SHADOW, "mode": "shadow", "priority": 60}
    shadow_config = write_yaml(tmp_path / "plugins" / SHADOW / "config.yaml", shadow)
    worker = start_worker(deployment.config, {"SHADOW_TOKEN": TOKEN})
    worker.wait_for_log("Kafka runtime started")

    produce(kafka_broker, topics.pending, [e.message() for e in events])
    live = expected_actions(events)
    live_hooks = [a for a in live if a.kind == "webhook"]
    webhook_receiver.wait_until(lambda: len(webhook_receiver.requests) >= len(live_hooks), 60)
    wait_committed(kafka_broker, deployment.group, topics.pending)
    with TopicTail(kafka_broker, shadow_topic) as tail:
        records = [r.json() for r in tail.settle(0.5)]
        kafka_keys = {r.headers["idempotency_key"] for r in tail.records}
    with TopicTail(kafka_broker, shadow_destination) as tail:
        assert tail.settle(0.5) == []

    # Nothing reached the shadow instance's receiver paths; the live instance ran as before.
    assert {r.path for r in webhook_receiver.requests} <= {"/hooks/photo", "/hooks/damage"}
    assert len(webhook_receiver.requests) == len(live_hooks)
    assert TOKEN not in str(records)
    by_key = {record["idempotency_key"]: record for record in records}
    assert kafka_keys == set(by_key)
    sent = {
        (r.json()["event_id"], r.path.removeprefix("/hooks/")): r for r in webhook_receiver.requests
    }
    shadow_paths = {"/hooks/photo": SHADOW_PHOTO, "/hooks/damage": SHADOW_DAMAGE}
    for action in live:
        key = idempotency_key(action.event.event_id, SHADOW, action.index)
        record = by_key.pop(key)
        assert record["instance"] == SHADOW
        assert record["event_id"] == action.event.event_id
        assert record["action_index"] == action.index
        if action.kind == "webhook":
            assert action.path is not None
            request = sent[action.event.event_id, action.path.removeprefix("/hooks/")]
            assert record["type"] == "webhook"
            assert record["method"] == "POST"
            assert record["url"] == webhook_receiver.url(shadow_paths[action.path])
            assert record["headers"]["Idempotency-Key"] == key
            assert record["headers"]["webhook-id"] == key
            assert record["headers"]["Authorization"] in ("Bearer ${SHADOW_TOKEN}", "***")
            assert _without_timestamp(record["body"]) == _without_timestamp(request.json())
        else:
            assert record["type"] == "publish_to_topic"
            assert record["topic"] == shadow_destination
            assert record["key"] == action.key
            assert record["headers"]["idempotency_key"] == key
            assert record["value"]["event_id"] == action.event.event_id
    kinds: defaultdict[str, int] = defaultdict(int)
    for record in by_key.values():  # what is left: the trigger's log and metric actions
        kinds[record["type"]] += 1
    assert set(kinds) <= {"log", "metric"}
    webhooks = metric(
        worker, "claimx_shadow_actions_total", {"instance": SHADOW, "type": "webhook"}
    )
    assert webhooks == len(live_hooks)

    # shadow -> live is a reload: the instance's next actions are delivered.
    live_config = copy.deepcopy(shadow)
    live_config["mode"] = "live"
    write_yaml(shadow_config, live_config)
    worker.process.send_signal(signal.SIGHUP)
    worker.wait_for_log("Configuration reload succeeded")
    later = task_events(2, prefix="later", template=PHOTO, event_type=completed, project=2200)
    produce(kafka_broker, topics.pending, [e.message() for e in later])
    webhook_receiver.wait_until(
        lambda: sum(r.path == SHADOW_PHOTO for r in webhook_receiver.requests) >= len(later), 60
    )
    assert worker.terminate() == 0, worker.output()[-3000:]
