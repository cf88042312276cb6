"""``claimx-worker dlq replay`` end to end: a real broker, a real receiver, the real command."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from claimx_worker.actions import (
    ActionExecutor,
    ActionSettings,
    DeadLetter,
    OutcomeStatus,
    secret_refs_from_environ,
)
from claimx_worker.http.connections import load_connections
from claimx_worker.http.exchange import webhook_exchange
from claimx_worker.kafka.producer import DeliveryProducer
from claimx_worker.model import Webhook
from claimx_worker.testing.kafka import KafkaBroker, TopicFactory
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.integration.actions_support import read_topic
from tests.integration.connections_support import CRM_TOKEN, free_port, write_down_connection
from tests.integration.runtime_support import produce

pytestmark = pytest.mark.kafka

CLI = str(Path(sys.executable).with_name("claimx-worker"))
INSTANCE = "task_trigger"
CRM_INSTANCE = "crm_trigger"
OLD_TOKEN = "old-token-4b2e9f61"
NEW_TOKEN = "new-token-a83c17d0"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as server:
        yield server


@pytest.fixture
def dlq_topic(kafka_topic_factory: TopicFactory) -> str:
    return kafka_topic_factory(partitions=2)


@pytest.fixture
def crm_port() -> int:
    """The port of connection ``crm``'s endpoint, down until a test starts a receiver on it."""
    return free_port()


@pytest.fixture
async def dead_letter(
    kafka_broker: KafkaBroker,
    dlq_topic: str,
    plugins_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Callable[..., Any]]:
    """``await dead_letter(url, n)``: n webhooks to ``url`` (which must fail permanently) with
    ``Authorization: Bearer $WEBHOOK_TOKEN``, run by the executor into the DLQ topic.
    ``connection="crm"``: from instance :data:`CRM_INSTANCE` through connection ``crm``, ``url``
    being the path."""
    monkeypatch.setenv("WEBHOOK_TOKEN", OLD_TOKEN)
    producer = DeliveryProducer(kafka_broker.client_config({"enable.idempotence": True}))
    await producer.start()
    client = webhook_exchange(allowed_destinations=())
    executor = ActionExecutor(
        ActionSettings(),
        client=client,
        produce=producer.send,
        registry=CollectorRegistry(),
        dlq_topic=dlq_topic,
        secret_refs=secret_refs_from_environ([], os.environ),
        connections=load_connections(plugins_dir, env={"CRM_TOKEN": CRM_TOKEN}).connections,
    )

    async def run(url: str, count: int, connection: str | None = None) -> list[str]:
        headers = {"Authorization": f"Bearer {os.environ['WEBHOOK_TOKEN']}"}
        instance = INSTANCE if connection is None else CRM_INSTANCE
        futures = [
            executor.submit(
                f"evt-{n}",
                "12345",
                instance,
                n,
                Webhook(url=url, headers=headers, body={"n": n})
                if connection is None
                else Webhook(url=url, connection=connection, body={"n": n}),
            )
            for n in range(count)
        ]
        outcomes = await asyncio.gather(*futures)
        assert {o.status for o in outcomes} == {OutcomeStatus.DEAD_LETTERED}
        return [o.idempotency_key for o in outcomes]

    yield run
    await executor.aclose()
    await client.aclose()
    await producer.close()


@pytest.fixture(autouse=True)
def plugins_dir(
    tmp_path: Path, receiver: WebhookReceiver, crm_port: int, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The current configuration: the instance the records came from sends its webhooks to the
    receiver with ``Authorization: Bearer ${WEBHOOK_TOKEN}``; instance :data:`CRM_INSTANCE`
    through connection ``crm`` (on ``crm_port``)."""
    directory = tmp_path / "plugins"
    write_down_connection(directory, CRM_INSTANCE, crm_port)
    (directory / INSTANCE).mkdir(parents=True)
    (directory / INSTANCE / "config.yaml").write_text(
        f"plugin: {INSTANCE}\n"
        "config:\n"
        f"  url: {receiver.url('/hook')}\n"
        "  headers: {Authorization: 'Bearer ${WEBHOOK_TOKEN}'}\n"
    )
    monkeypatch.chdir(tmp_path)  # the default plugins_dir is plugins/config: not this one
    return directory


async def replay(
    kafka_broker: KafkaBroker,
    topic: str | None,
    group: str,
    *args: str,
    token: str | None = NEW_TOKEN,
    env: dict[str, str] | None = None,
) -> tuple[int, list[dict[str, Any]], str]:
    """Run the command (``--topic`` unless ``topic`` is None) over the instances in
    ``./plugins``; return its exit code, its stdout JSON lines and everything it wrote."""
    environ = {k: v for k, v in os.environ.items() if k != "WEBHOOK_TOKEN"}
    environ |= {"KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers, "LOG_LEVEL": "DEBUG"}
    environ |= {"CRM_TOKEN": CRM_TOKEN}
    environ |= env or {}
    if token is not None:
        environ["WEBHOOK_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        CLI,
        "dlq",
        "replay",
        *(["--topic", topic] if topic is not None else []),
        "--group",
        group,
        "--plugins-dir",
        "plugins",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environ,
    )
    async with asyncio.timeout(90):
        stdout, stderr = await process.communicate()
    assert process.returncode is not None
    lines = [json.loads(line) for line in stdout.decode().splitlines()]
    return process.returncode, lines, stdout.decode() + stderr.decode()


async def test_replay_delivers_dead_lettered_webhooks_once_the_endpoint_works(
    kafka_broker: KafkaBroker,
    dlq_topic: str,
    receiver: WebhookReceiver,
    dead_letter: Callable[..., Any],
) -> None:
    receiver.behave("/hook", status=404)
    keys = await dead_letter(receiver.url("/hook"), 3)
    group = f"replay-{uuid.uuid4().hex[:8]}"

    code, listed, output = await replay(kafka_broker, dlq_topic, group, "--dry-run")
    assert code == 0, output
    assert sorted(line["record"]["idempotency_key"] for line in listed) == sorted(keys)
    assert {line["record"]["action"]["headers"]["Authorization"] for line in listed} == {
        "Bearer ${WEBHOOK_TOKEN}"
    }
    assert {line["replayable"] for line in listed} == {True}
    assert len(receiver.requests) == 3  # a dry run calls nobody

    receiver.behave("/hook", status=200)
    code, replayed, output = await replay(kafka_broker, dlq_topic, group)
    assert code == 0, output
    assert [line["outcome"] for line in replayed] == ["delivered"] * 3
    delivered = receiver.at("/hook", ok=True)
    assert sorted(r.headers["idempotency-key"] for r in delivered) == sorted(keys)
    assert {r.headers["authorization"] for r in delivered} == {f"Bearer {NEW_TOKEN}"}
    assert sorted(json.loads(r.body)["n"] for r in delivered) == [0, 1, 2]
    for token in (OLD_TOKEN, NEW_TOKEN):
        assert token not in output

    code, again, output = await replay(kafka_broker, dlq_topic, group)
    assert (code, again) == (0, [])
    assert "0 record(s) replayed" in output
    assert len(receiver.at("/hook", ok=True)) == 3


async def test_replay_failures_go_back_to_the_dlq_and_a_missing_variable_stops_it(
    kafka_broker: KafkaBroker,
    dlq_topic: str,
    receiver: WebhookReceiver,
    dead_letter: Callable[..., Any],
    tmp_path: Path,
) -> None:
    receiver.behave("/gone", status=404)
    keys = await dead_letter(receiver.url("/gone"), 2)
    group = f"replay-{uuid.uuid4().hex[:8]}"

    code, lines, output = await replay(kafka_broker, dlq_topic, group, token=None)
    assert code == 2, output
    assert "WEBHOOK_TOKEN is not set" in output
    assert (lines, len(receiver.requests)) == ([], 2)

    code, lines, output = await replay(kafka_broker, dlq_topic, group)
    assert code == 1, output
    assert [line["outcome"] for line in lines] == ["dead_lettered"] * 2
    assert NEW_TOKEN not in output
    messages = await asyncio.to_thread(read_topic, kafka_broker, dlq_topic, expected=4)
    records = [DeadLetter.from_json(m.value()) for m in messages]
    assert sorted(r.idempotency_key for r in records) == sorted(keys * 2)
    for message in messages:
        assert NEW_TOKEN.encode() not in message.value()
        assert OLD_TOKEN.encode() not in message.value()

    settings = tmp_path / "claimx_config.yaml"
    settings.write_text(
        "kafka:\n"
        "  bootstrap_servers: ${KAFKA_BOOTSTRAP_SERVERS}\n"
        "  claimx:\n"
        "    enrichment_worker:\n"
        f"      topics: {{actions_dlq: {dlq_topic}}}\n"
    )
    code, lines, output = await replay(
        kafka_broker, None, group, "--config", str(settings), "--max", "1"
    )
    assert code == 1, output
    assert len(lines) == 1  # only records written by the previous replay are left, one at most
    assert len(receiver.at("/gone")) == 2 + 2 + 1


async def test_a_forged_record_cannot_pick_variables_or_destinations(
    kafka_broker: KafkaBroker,
    dlq_topic: str,
    receiver: WebhookReceiver,
    dead_letter: Callable[..., Any],
) -> None:
    """The security review's proof: a record written to the DLQ topic by someone else named the
    variables to fill in and where to send them, and replay delivered both values."""
    receiver.behave("/hook", status=404)
    (key,) = await dead_letter(receiver.url("/hook"), 1)
    (genuine,) = await asyncio.to_thread(read_topic, kafka_broker, dlq_topic, expected=1)
    record = json.loads(genuine.value())
    forged_variables = record | {
        "secret_vars": ["CLAIMX_API_TOKEN", "AWS_SECRET_ACCESS_KEY"],
        "action": record["action"]
        | {
            "url": receiver.url("/hook") + "?t=${CLAIMX_API_TOKEN}",
            "headers": {"X-K": "${AWS_SECRET_ACCESS_KEY}"},
        },
    }
    forged_destination = record | {
        "action": record["action"]
        | {"url": receiver.url("/collect").replace("127.0.0.1", "localhost")}
    }
    producer = DeliveryProducer(kafka_broker.client_config({"enable.idempotence": True}))
    await producer.start()
    for forged in (forged_variables, forged_destination):
        await producer.send(dlq_topic, json.dumps(forged).encode(), None, [])
    await producer.close()
    secrets = {"CLAIMX_API_TOKEN": "api-token-7d1e5a90", "AWS_SECRET_ACCESS_KEY": "aws-6c0b2f3e"}
    group = f"replay-{uuid.uuid4().hex[:8]}"

    code, listed, output = await replay(kafka_broker, dlq_topic, group, "--dry-run", env=secrets)
    assert code == 1, output
    assert sorted(str(line.get("replayable")) for line in listed) == ["None", "None", "True"]
    reasons = sorted(line["unreplayable"] for line in listed if "unreplayable" in line)
    assert "endpoint http://localhost" in reasons[0]
    assert "${AWS_SECRET_ACCESS_KEY}, ${CLAIMX_API_TOKEN}" in reasons[1]

    receiver.behave("/hook", status=200)
    code, replayed, output = await replay(kafka_broker, dlq_topic, group, env=secrets)
    assert code == 1, output
    assert sorted(str(line.get("outcome")) for line in replayed) == ["None", "None", "delivered"]
    assert [r.headers["idempotency-key"] for r in receiver.at("/hook", ok=True)] == [key]
    assert receiver.at("/collect") == []
    for request in receiver.requests:
        for value in secrets.values():
            assert value not in request.path + str(dict(request.headers)) + request.body.decode()


async def test_a_connection_webhook_dead_lettered_while_its_endpoint_was_down_is_replayed(
    kafka_broker: KafkaBroker,
    dlq_topic: str,
    crm_port: int,
    dead_letter: Callable[..., Any],
) -> None:
    """Its record holds a path; replay sends it through the connection, with the connection's
    current authentication, once the endpoint is back."""
    keys = await dead_letter("/tasks?n=1", 2, connection="crm")  # connection refused
    (record, _) = await asyncio.to_thread(read_topic, kafka_broker, dlq_topic, expected=2)
    assert CRM_TOKEN.encode() not in record.value()
    group = f"replay-{uuid.uuid4().hex[:8]}"

    async with WebhookReceiver(port=crm_port) as crm:
        code, replayed, output = await replay(kafka_broker, dlq_topic, group)

    assert code == 0, output
    assert [line["outcome"] for line in replayed] == ["delivered"] * 2
    delivered = crm.at("/crm/tasks", ok=True)
    assert sorted(r.headers["idempotency-key"] for r in delivered) == sorted(keys)
    assert {r.headers["authorization"] for r in delivered} == {f"Bearer {CRM_TOKEN}"}
    assert CRM_TOKEN not in output


async def test_a_forged_connection_record_is_not_replayed(
    kafka_broker: KafkaBroker,
    dlq_topic: str,
    crm_port: int,
    dead_letter: Callable[..., Any],
) -> None:
    """A record that names a connection its instance does not, or a path that leaves it."""
    await dead_letter("/tasks", 1, connection="crm")
    (genuine,) = await asyncio.to_thread(read_topic, kafka_broker, dlq_topic, expected=1)
    record = json.loads(genuine.value())
    forged = [
        record | {"instance": INSTANCE},
        record | {"action": record["action"] | {"url": "//evil.example/x"}},
        record | {"action": record["action"] | {"url": "/../../steal"}},
    ]
    records = [(None, json.dumps(value).encode(), None) for value in forged]
    await asyncio.to_thread(produce, kafka_broker, dlq_topic, records)
    group = f"replay-{uuid.uuid4().hex[:8]}"

    async with WebhookReceiver(port=crm_port) as crm:
        code, replayed, output = await replay(kafka_broker, dlq_topic, group)

    assert code == 1, output
    assert [line["outcome"] for line in replayed if "outcome" in line] == ["delivered"]
    reasons = " | ".join(line["unreplayable"] for line in replayed if "unreplayable" in line)
    assert "connection 'crm' is not one the configuration of instance 'task_trigger'" in reasons
    assert "takes a path starting with '/'" in reasons
    assert "the path climbs above connection 'crm'" in reasons
    assert [r.path for r in crm.requests] == ["/crm/tasks"]
    assert CRM_TOKEN not in output
