"""Action delivery through ``claimx-worker run``: a webhook outage loses nothing, a gone endpoint
dead-letters with context and ``claimx-worker dlq replay`` delivers later, and a slow webhook
does not hold up the events that do not call it."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import pytest

from claimx_worker.actions import DeadLetter
from claimx_worker.model import EventType
from claimx_worker.testing.claimx_api import ClaimXApiSimulator
from claimx_worker.testing.kafka import KafkaBroker
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.e2e.support import (
    DAMAGE,
    DAMAGE_PATH,
    INSTANCE,
    PHOTO,
    PHOTO_PATH,
    Deployment,
    DeployScenario,
    SentEvent,
    StartWorker,
    Topics,
    TopicTail,
    WorkerProcess,
    by_event,
    check_payload,
    deploy,
    expected_actions,
    photo_and_damage_events,
    produce,
    run_cli,
    task_events,
    trigger_config,
    wait_committed,
)

pytestmark = pytest.mark.kafka


def start(deployment: Deployment, start_worker: StartWorker) -> WorkerProcess:
    """A worker that has joined its group (so events produced now meet a running pipeline)."""
    worker = start_worker(deployment.config)
    worker.wait_for_log("Partitions assigned")
    return worker


def test_webhook_outage_then_recovery_loses_no_call(
    kafka_broker: KafkaBroker,
    topics: Topics,
    webhook_receiver: WebhookReceiver,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
) -> None:
    events = photo_and_damage_events(30)
    hooks = {a.idempotency_key: a for a in expected_actions(events) if a.kind == "webhook"}
    assert len(hooks) == 60
    deployment = deploy_scenario(
        actions={"max_attempts": 50, "max_age": 120},
    )
    worker = start(deployment, start_worker)
    outage_end = time.monotonic() + 2.0
    for path in (PHOTO_PATH, DAMAGE_PATH):
        webhook_receiver.behave(path, fail_until=outage_end, fail_status=503)
    produce(kafka_broker, topics.pending, [e.message() for e in events])

    webhook_receiver.wait_until(
        lambda: (
            {r.headers["idempotency-key"] for r in webhook_receiver.requests if r.status == 200}
            >= hooks.keys()
        ),
        timeout=60,
    )
    wait_committed(kafka_broker, deployment.group, topics.pending)
    with TopicTail(kafka_broker, topics.actions_dlq) as actions_dlq:
        assert actions_dlq.settle(0.5) == []

    requests = webhook_receiver.requests
    failed = [r for r in requests if r.status == 503]
    assert failed, "the outage was not seen"
    assert all(r.started < outage_end for r in failed)
    delivered: dict[str, int] = defaultdict(int)
    for request in requests:
        action = hooks[request.headers["idempotency-key"]]
        assert request.path == action.path
        assert request.json()["event_id"] == action.event.event_id
        delivered[action.idempotency_key] += request.status == 200
    assert delivered == dict.fromkeys(hooks, 1)  # every call arrived, once
    assert worker.terminate() == 0


def test_gone_endpoint_dead_letters_with_context_then_replay_delivers(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    webhook_receiver: WebhookReceiver,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
) -> None:
    events = task_events(
        8, prefix="gone", template=DAMAGE, event_type=EventType.CUSTOM_TASK_ASSIGNED
    )
    hooks = {a.idempotency_key: a for a in expected_actions(events)}
    deployment = deploy_scenario()
    webhook_receiver.behave(DAMAGE_PATH, status=404)
    produce(kafka_broker, topics.pending, [e.message() for e in events])
    worker = start_worker(deployment.config, {})

    with (
        TopicTail(kafka_broker, topics.actions_dlq) as actions_dlq,
        TopicTail(kafka_broker, topics.enriched) as enriched,
    ):
        actions_dlq.wait_for(
            lambda r: len(r) >= len(hooks), 60, what="dead-lettered actions", worker=worker
        )
        enriched.wait_for(lambda r: len(r) >= len(events), 30, what="entity rows")
        wait_committed(
            kafka_broker, deployment.group, topics.pending
        )  # dead-lettered counts as done
        records = actions_dlq.settle(0.5)
    assert worker.terminate() == 0

    rows = by_event(enriched.records)
    assert len(records) == len(hooks)
    for record in records:
        letter = DeadLetter.from_json(record.value)
        action = hooks[letter.idempotency_key]
        assert record.key == action.event.project_id.encode()
        assert (letter.event_id, letter.project_id) == (
            action.event.event_id,
            action.event.project_id,
        )
        assert (letter.instance, letter.action_index) == (INSTANCE, action.index)
        assert (letter.http_status, letter.attempts, letter.give_up) == (404, 1, "permanent")
        assert "404" in letter.error
        assert letter.action["type"] == "webhook"
        assert letter.action["url"] == webhook_receiver.url(DAMAGE_PATH)
        check_payload(letter.action["body"], action, claimx_api.data, rows[letter.event_id])
    assert len(webhook_receiver.at(DAMAGE_PATH, ok=False)) == len(hooks)  # not retried

    webhook_receiver.behave(DAMAGE_PATH, status=200)
    config = str(deployment.config)
    replay = run_cli("dlq", "replay", "--topic", topics.actions_dlq, "--config", config, env={})
    assert replay.returncode == 0, replay.stdout + replay.stderr
    delivered = webhook_receiver.at(DAMAGE_PATH, ok=True)
    assert sorted(r.headers["idempotency-key"] for r in delivered) == sorted(hooks)
    for request in delivered:
        action = hooks[request.headers["idempotency-key"]]
        check_payload(request.json(), action, claimx_api.data, rows[action.event.event_id])


def test_slow_webhook_does_not_hold_up_other_events(
    kafka_broker: KafkaBroker,
    topics: Topics,
    webhook_receiver: WebhookReceiver,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
) -> None:
    # Per project: an event whose trigger calls the 2 s webhook, then ten events that call
    # nothing. Same project, same key, same partition: they run in offset order after it.
    slow = task_events(8, prefix="slow", template=DAMAGE, event_type=EventType.CUSTOM_TASK_ASSIGNED)
    followers = {
        event.project_id: [
            SentEvent(f"{event.event_id}-next-{n}", EventType.PROJECT_CREATED, event.project_id)
            for n in range(10)
        ]
        for event in slow
    }
    stream = [e for event in slow for e in (event, *followers[event.project_id])]
    deployment = deploy_scenario()
    webhook_receiver.behave(DAMAGE_PATH, delay=2.0)
    worker = start(deployment, start_worker)
    produce(kafka_broker, topics.pending, [e.message() for e in stream])

    with TopicTail(kafka_broker, topics.enriched) as enriched:
        enriched.wait_for(lambda r: len(r) >= len(stream), 60, what="entity rows", worker=worker)
        webhook_receiver.wait_until(lambda: len(webhook_receiver.requests) == len(slow), 30)
        wait_committed(kafka_broker, deployment.group, topics.pending)
    assert worker.terminate() == 0

    written_at = {r.json()["event_id"]: r.timestamp_ms / 1000 for r in enriched.records}
    for request in webhook_receiver.requests:
        project = json.loads(request.body)["project_id"]
        answered_at = request.at + (request.ended - request.started)
        assert request.ended - request.started >= 2.0
        # every later event of the project was written while its slow call was in flight
        for follower in followers[project]:
            assert written_at[follower.event_id] < answered_at, (follower, request)


def test_slow_endpoint_does_not_starve_other_endpoints(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    webhook_receiver: WebhookReceiver,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    # 150 calls in flight at once to an endpoint that takes 4 s, then 20 calls to another
    # endpoint: those are all answered while the slow endpoint's are still in flight.
    slow = task_events(
        150, prefix="slow", template=DAMAGE, event_type=EventType.CUSTOM_TASK_ASSIGNED
    )
    fast = task_events(
        20, prefix="fast", template=PHOTO, event_type=EventType.CUSTOM_TASK_COMPLETED, project=3000
    )
    with WebhookReceiver() as slow_receiver:
        slow_receiver.behave(DAMAGE_PATH, delay=4.0)
        trigger = trigger_config(
            topics.triggers, webhook_receiver.url(PHOTO_PATH), slow_receiver.url(DAMAGE_PATH)
        )
        deployment = deploy(
            tmp_path,
            broker=kafka_broker,
            topics=topics,
            api_url=claimx_api.base_url,
            trigger=trigger,
        )
        worker = start(deployment, start_worker)
        produce(kafka_broker, topics.pending, [e.message() for e in slow])
        slow_receiver.wait_until(lambda: slow_receiver.in_flight[DAMAGE_PATH] == len(slow), 15)
        produce(kafka_broker, topics.pending, [e.message() for e in fast])
        webhook_receiver.wait_until(lambda: len(webhook_receiver.requests) == len(fast), 30)
        assert slow_receiver.requests == [], "the fast calls waited for the slow endpoint"
        slow_receiver.wait_until(lambda: len(slow_receiver.requests) == len(slow), 30)
        wait_committed(kafka_broker, deployment.group, topics.pending)
    assert worker.terminate() == 0
