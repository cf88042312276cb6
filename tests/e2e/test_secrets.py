"""Secrets through ``claimx-worker run``: the webhook token from ``WEBHOOK_TOKEN`` reaches the
receiver and nothing else: no log line, DLQ record or error message, while failures run every
error path (webhook 503s and refused connections dead-lettered, API errors retried, poison)."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path

import pytest

from claimx_worker.actions import DeadLetter
from claimx_worker.model import EventType
from claimx_worker.testing.claimx_api import SIMULATOR_TOKEN, ClaimXApiSimulator, Endpoint
from claimx_worker.testing.kafka import KafkaBroker
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.e2e.support import (
    DAMAGE,
    PHOTO,
    PHOTO_PATH,
    Record,
    StartWorker,
    Topics,
    TopicTail,
    deploy,
    expected_actions,
    mixed_events,
    produce,
    run_cli,
    task_events,
    trigger_config,
)

pytestmark = pytest.mark.kafka


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/hooks/nobody"


def record_text(record: Record) -> str:
    return repr((record.key, record.value, dict(record.headers)))


def test_webhook_token_appears_in_no_log_dlq_record_or_error(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    webhook_receiver: WebhookReceiver,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    token = f"tok-{uuid.uuid4().hex}"
    completed, assigned = EventType.CUSTOM_TASK_COMPLETED, EventType.CUSTOM_TASK_ASSIGNED
    events = [
        *task_events(6, prefix="photo", template=PHOTO, event_type=completed),
        *task_events(6, prefix="damage", template=DAMAGE, event_type=assigned),
        *mixed_events(100, prefix="mix"),
    ]
    hooks = [a for a in expected_actions(events) if a.kind == "webhook"]
    poison = [(b"1", b"{not json"), (b"1", json.dumps({"event_id": "no-type"}).encode())]
    trigger = trigger_config(
        topics.triggers,
        webhook_receiver.url(PHOTO_PATH),  # 503 until retries run out
        closed_port_url(),  # connection refused until retries run out
        headers={"Authorization": "Bearer ${WEBHOOK_TOKEN}"},
    )
    deployment = deploy(
        tmp_path,
        broker=kafka_broker,
        topics=topics,
        api_url=claimx_api.base_url,
        trigger=trigger,
        actions={"max_attempts": 2, "breaker_threshold": 100},
        api={"retries": 0},  # API errors go through the retry topics
    )
    webhook_receiver.behave(PHOTO_PATH, status=503)
    claimx_api.fail_next(429, 500, endpoint=Endpoint.PROJECT)
    claimx_api.fail_next(503, endpoint=Endpoint.TASK_ASSIGNMENT)
    produce(kafka_broker, topics.pending, [e.message() for e in events] + poison)
    worker = start_worker(deployment.config, {"WEBHOOK_TOKEN": token, "LOG_LEVEL": "DEBUG"})

    with (
        TopicTail(kafka_broker, topics.actions_dlq) as actions_dlq,
        TopicTail(kafka_broker, topics.dlq) as dlq,
    ):
        actions_dlq.wait_for(
            lambda r: len(r) >= len(hooks), 60, what="dead-lettered webhooks", worker=worker
        )
        dlq.wait_for(lambda r: len(r) >= len(poison), 30, what="poison dead-lettered")
        assert worker.terminate() == 0, worker.output()[-3000:]
        dead = [*actions_dlq.settle(0.5), *dlq.settle(0.5)]
    retried = []
    for delay in topics.retry_delays:
        with TopicTail(kafka_broker, f"{topics.retry_prefix}.{delay}") as retry_tail:
            retried += retry_tail.settle(0.5)

    # The token was configured and sent: the receiver saw it.
    photo_calls = webhook_receiver.at(PHOTO_PATH)
    assert photo_calls
    assert {r.headers["authorization"] for r in photo_calls} == {f"Bearer {token}"}
    # The error paths ran: both webhook failures dead-lettered, API errors retried.
    letters = [DeadLetter.from_json(r.value) for r in actions_dlq.records]
    assert {letter.http_status for letter in letters} == {503, None}
    assert all(letter.error for letter in letters)
    assert {letter.secret_vars for letter in letters} == {("WEBHOOK_TOKEN",)}
    assert {letter.action["headers"]["Authorization"] for letter in letters} == {
        "Bearer ${WEBHOOK_TOKEN}"
    }
    assert retried, "no API error was retried"
    # ... and the token is nowhere: worker output, DLQ and retry records (errors included).
    output = worker.output()
    assert "Task trigger matched" in output
    assert "Action dead-lettered" in output
    assert token not in output
    assert SIMULATOR_TOKEN not in output
    for record in [*dead, *retried]:
        assert token not in record_text(record)
        assert SIMULATOR_TOKEN not in record_text(record)

    dry_run = ("dlq", "replay", "--dry-run", "--topic", topics.actions_dlq)
    listed = run_cli(*dry_run, "--config", str(deployment.config), env={"WEBHOOK_TOKEN": token})
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count('"Authorization": "Bearer ${WEBHOOK_TOKEN}"') == len(letters)
    assert token not in listed.stdout + listed.stderr
