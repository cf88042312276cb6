"""Secrets through ``claimx-worker run``: the webhook token from ``WEBHOOK_TOKEN`` reaches the
receiver and nothing else: no log line, DLQ record or error message, while failures run every
error path (webhook 503s and refused connections dead-lettered, API errors retried, poison).
Then the secret-leak test: a distinctive value for every secret-bearing setting and header form,
searched in every output channel (both log formats, every topic, ``/metrics``, every CLI
command's output)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import urllib.parse
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
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
    WorkerProcess,
    deploy,
    expected_actions,
    mixed_events,
    produce,
    run_cli,
    task_events,
    trigger_config,
    write_settings,
    write_trigger_instance,
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


# --------------------------------------------------------------------------- every channel


LEAK_ENV_NAMES = (
    "CLAIMX_API_TOKEN",
    "WEBHOOK_TOKEN",
    "APIM_KEY",
    "FN_KEY",
    "AZURE_FUNCTION_KEY",
    "WEBHOOK_SIGNING_SECRET",
    "TRIGGER_SIGNING_SECRET",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_CLIENT_ID",
)
SECRET_HEADERS = {
    "Authorization": "Bearer ${WEBHOOK_TOKEN}",
    "Ocp-Apim-Subscription-Key": "${APIM_KEY}",
    "X-Functions-Key": "${FN_KEY}",
}
MISSING_PROJECTS = {"1003", "1011"}
"""Projects the API answers 404 for: their events go to the event DLQ."""


def leak_values() -> dict[str, str]:
    """A value found nowhere else (72 random hex digits) for every secret-bearing variable;
    signing secrets in the ``whsec_<base64>`` form."""
    values = {name: secrets.token_hex(36) for name in LEAK_ENV_NAMES}
    for name in ("WEBHOOK_SIGNING_SECRET", "TRIGGER_SIGNING_SECRET"):
        values[name] = "whsec_" + base64.b64encode(secrets.token_bytes(33)).decode()
    return values


def fragments(value: str) -> tuple[str, ...]:
    """What betrays ``value``: itself, its first and last 16 characters (a truncated echo),
    and its percent-encoded form."""
    core = value.removeprefix("whsec_")
    return (value, core[:16], core[-16:], urllib.parse.quote(value, ""))


def leaks(channels: Mapping[str, str], values: Mapping[str, str]) -> list[str]:
    """``channel: VARIABLE`` for every channel holding any fragment of a value."""
    return [
        f"{channel}: {name}"
        for channel, text in channels.items()
        for name, value in values.items()
        if any(fragment in text for fragment in fragments(value))
    ]


def leak_trigger(topic: str, photo_url: str, damage_url: str) -> dict[str, Any]:
    """The scenario's trigger instance with every secret header form on both webhooks, keys in
    URLs (Azure Functions' ``?code=`` on the photo webhook, API Management's
    ``?subscription-key=`` on the damage webhook), and the photo webhook signed with its own
    secret (the damage webhook takes the global one)."""
    trigger = trigger_config(
        topic,
        photo_url + "?code=${AZURE_FUNCTION_KEY}",
        damage_url + "?subscription-key=${APIM_KEY}",
        headers=SECRET_HEADERS,
    )
    photo = trigger["config"]["triggers"][PHOTO]["on_completed"]["webhook"]
    photo["signing_secret"] = "${TRIGGER_SIGNING_SECRET}"
    return trigger


def metrics_text(worker: WorkerProcess) -> str:
    """A ``/metrics`` scrape of ``worker`` (its URL read from its start-up log line)."""
    worker.wait_for_log("Serving /metrics")
    port = re.search(r"Serving /metrics.*?:(\d+)", worker.output())
    assert port is not None, worker.output()[-3000:]
    return httpx.get(f"http://127.0.0.1:{port.group(1)}/metrics", timeout=10).text


def test_no_secret_value_reaches_any_output_channel(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    webhook_receiver: WebhookReceiver,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    values = leak_values()
    env = {**values, "LOG_LEVEL": "DEBUG"}
    claimx_api.knobs.token = values["CLAIMX_API_TOKEN"]
    claimx_api.knobs.missing_project_ids = set(MISSING_PROJECTS)
    completed, assigned = EventType.CUSTOM_TASK_COMPLETED, EventType.CUSTOM_TASK_ASSIGNED
    events = [
        *task_events(4, prefix="photo", template=PHOTO, event_type=completed),
        *task_events(4, prefix="damage", template=DAMAGE, event_type=assigned),
        *mixed_events(40, prefix="mix"),
    ]
    hooks = [a for a in expected_actions(events) if a.kind == "webhook"]
    failed_events = [e for e in events if e.project_id in MISSING_PROJECTS]
    assert hooks
    assert failed_events
    poison = [(b"1", b"{not json")]
    plugins = tmp_path / "plugins"
    write_trigger_instance(
        plugins,
        leak_trigger(topics.triggers, webhook_receiver.url(PHOTO_PATH), closed_port_url()),
    )
    common = {
        "sasl.username": "${KAFKA_SASL_USERNAME}",
        "sasl.password": "${KAFKA_SASL_PASSWORD}",
        "client.id": "${KAFKA_CLIENT_ID}",  # librdkafka names its clients by it in log lines
    }
    configs = {
        fmt: write_settings(
            tmp_path / f"worker-{fmt}.yaml",
            broker=kafka_broker,
            topics=topics,
            group=f"e2e-leaks-{fmt}-{topics.pending}",
            plugins_dir=plugins,
            api_url=claimx_api.base_url,
            actions={
                "max_attempts": 2,
                "breaker_threshold": 100,
                "signing_secret": "${WEBHOOK_SIGNING_SECRET}",
            },
            api={"retries": 0},
            common=common,
        )
        for fmt in ("human", "json")
    }
    webhook_receiver.behave(PHOTO_PATH, status=503)
    claimx_api.fail_next(503, endpoint=Endpoint.TASK_ASSIGNMENT)  # one event retried
    produce(kafka_broker, topics.pending, [e.message() for e in events] + poison)
    workers = {
        fmt: start_worker(config, {**env, "LOG_FORMAT": fmt}, name=f"worker-{fmt}")
        for fmt, config in configs.items()
    }

    channels: dict[str, str] = {}
    with (
        TopicTail(kafka_broker, topics.actions_dlq) as actions_dlq,
        TopicTail(kafka_broker, topics.dlq) as dlq,
    ):
        for worker in workers.values():
            actions_dlq.wait_for(
                lambda r: len(r) >= 2 * len(hooks), 90, what="dead-lettered webhooks", worker=worker
            )
            dlq.wait_for(
                lambda r: len(r) >= 2 * (len(failed_events) + len(poison)),
                60,
                what="failed events dead-lettered",
                worker=worker,
            )
        for fmt, worker in workers.items():
            channels[f"/metrics ({fmt} worker)"] = metrics_text(worker)
        for fmt, worker in workers.items():
            assert worker.terminate() == 0, worker.output()[-3000:]
            channels[f"{fmt} worker output"] = worker.output()
    for topic in topics.all():
        with TopicTail(kafka_broker, topic) as tail:
            channels[f"topic {topic}"] = "\n".join(record_text(r) for r in tail.settle(0.3))

    # The values were in use: the receiver saw the headers, the API accepted the token.
    photo_calls = webhook_receiver.at(PHOTO_PATH)
    assert photo_calls
    assert {r.headers["ocp-apim-subscription-key"] for r in photo_calls} == {values["APIM_KEY"]}
    assert {r.headers["x-functions-key"] for r in photo_calls} == {values["FN_KEY"]}
    assert all("webhook-signature" in r.headers for r in photo_calls)
    assert "Task trigger matched" in channels["human worker output"]
    assert '"message": "Action dead-lettered"' in channels["json worker output"]

    config = str(configs["human"])
    bad_plugins = tmp_path / "bad-plugins"
    broken = leak_trigger(topics.triggers, webhook_receiver.url(PHOTO_PATH), closed_port_url())
    broken["priorty"] = 3  # an error in another key
    broken["config"]["triggers"][DAMAGE]["on_assigned"]["webhook"]["timeout"] = "${FN_KEY}"
    write_trigger_instance(bad_plugins, broken)
    event_file = tmp_path / "event.json"
    photo_event = next(e for e in events if e.template == PHOTO and e.event_type == completed)
    event_file.write_bytes(photo_event.message()[1])
    commands = {
        "plugins list": ("plugins", "list", "--config", config),
        "plugins list --json": ("plugins", "list", "--json", "--config", config),
        "plugins validate": ("plugins", "validate", "--config", config),
        "plugins validate (invalid)": (
            "plugins", "validate", "--config", config, "--plugins-dir", str(bad_plugins),
        ),
        "simulate": ("simulate", "--config", config, str(event_file)),
        "simulate --json": ("simulate", "--json", "--config", config, str(event_file)),
        "dlq replay --dry-run": (
            "dlq", "replay", "--dry-run", "--topic", topics.actions_dlq, "--config", config,
        ),
    }  # fmt: skip
    for label, args in commands.items():
        result = run_cli(*args, env=env)
        assert result.returncode == (2 if "invalid" in label else 0), (label, result.stderr)
        channels[label] = result.stdout + result.stderr

    found = leaks(channels, values)
    assert found == [], "secret values leaked:\n" + "\n".join(found)
    # Dead letters hold references, so that replay restores every value from the environment.
    letters = [DeadLetter.from_json(r.value) for r in actions_dlq.records]
    assert {letter.action["headers"]["Ocp-Apim-Subscription-Key"] for letter in letters} == {
        "${APIM_KEY}"
    }
    assert {letter.action["headers"]["X-Functions-Key"] for letter in letters} == {"${FN_KEY}"}
    assert {letter.action["url"].partition("?")[2] for letter in letters} == {
        "code=${AZURE_FUNCTION_KEY}",
        "subscription-key=${APIM_KEY}",
    }
    assert "${AZURE_FUNCTION_KEY}" in channels["dlq replay --dry-run"]  # a reference, restorable
    assert "webhook" in channels["simulate --json"]
