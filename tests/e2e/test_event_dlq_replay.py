"""Replaying the event DLQ through the real command: a bad API token dead-letters every event;
with the token fixed, ``claimx-worker dlq replay`` puts them back onto the input topic and the
running worker enriches each one once, and fires each trigger once."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from claimx_worker.testing.kafka import KafkaBroker
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.e2e.support import (
    DeployScenario,
    StartWorker,
    Topics,
    TopicTail,
    expected_actions,
    photo_and_damage_events,
    produce,
    run_cli,
    wait_committed,
)

pytestmark = pytest.mark.kafka


def test_events_dead_lettered_by_a_bad_token_are_replayed_and_enriched_once(
    kafka_broker: KafkaBroker,
    topics: Topics,
    webhook_receiver: WebhookReceiver,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
) -> None:
    events = photo_and_damage_events(20)
    actions = expected_actions(events)
    hooks = {a.idempotency_key for a in actions if a.kind == "webhook"}
    publishes = {a.idempotency_key for a in actions if a.kind == "publish"}
    deployment = deploy_scenario()
    produce(kafka_broker, topics.pending, [e.message() for e in events])

    bad = start_worker(deployment.config, {"CLAIMX_API_TOKEN": "bad-token"}, name="bad")
    with TopicTail(kafka_broker, topics.dlq) as dlq:
        dlq.wait_for(
            lambda r: len(r) >= len(events), 60, what="every event dead-lettered", worker=bad
        )
        assert {r.headers["claimx-error-category"] for r in dlq.records} == {"auth"}
    wait_committed(kafka_broker, deployment.group, topics.pending)
    assert bad.terminate() == 0, bad.output()[-3000:]
    assert not webhook_receiver.requests

    fixed = start_worker(deployment.config, name="fixed")  # the simulator's token
    fixed.wait_for_log("Partitions assigned")
    replay = ["dlq", "replay", "--config", str(deployment.config), "--topic", topics.dlq]

    listed = run_cli(*replay, "--dry-run", "--category", "auth", env={})
    assert listed.returncode == 0, listed.stderr
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted(line["event_id"] for line in lines) == sorted(e.event_id for e in events)
    assert all(line["replayable"] is True for line in lines)

    done = run_cli(*replay, env={})
    assert done.returncode == 0, done.stderr
    assert f"{len(events)} replayed onto {topics.pending}" in done.stderr

    with (
        TopicTail(kafka_broker, topics.enriched) as enriched,
        TopicTail(kafka_broker, topics.triggers) as triggers,
    ):
        enriched.wait_for(
            lambda r: len(r) >= len(events), 60, what="every event enriched", worker=fixed
        )
        webhook_receiver.wait_until(lambda: len(webhook_receiver.requests) >= len(hooks), 60)
        triggers.wait_for(lambda r: len(r) >= len(publishes), 60, what="every trigger message")
        wait_committed(kafka_broker, deployment.group, topics.pending)
        again = run_cli(*replay, env={})  # the replay group committed: nothing is redone
        assert again.returncode == 0, again.stderr
        assert "0 event record(s) read" in again.stderr
        rows = Counter(r.json()["event_id"] for r in enriched.settle(1.0))
        messages = Counter(m.headers["idempotency_key"] for m in triggers.settle(0.5))
    assert rows == Counter(e.event_id for e in events)  # every event once, none twice
    assert Counter(r.headers["idempotency-key"] for r in webhook_receiver.requests) == Counter(
        hooks
    )
    assert messages == Counter(publishes)
    assert fixed.terminate() == 0, fixed.output()[-3000:]
