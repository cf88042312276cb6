"""The action executor with a real Kafka broker: publishes acknowledged with their keys and
headers, exhausted actions in the action DLQ with their context and no secret, and a failed
DLQ write surfacing to the caller."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from claimx_worker.actions import (
    ActionExecutor,
    ActionSettings,
    DeadLetter,
    DeadLetterWriteError,
    OutcomeStatus,
    idempotency_key,
    secret_refs_from_environ,
)
from claimx_worker.http.exchange import webhook_exchange
from claimx_worker.kafka.producer import DeliveryProducer
from claimx_worker.model import PublishToTopic, Webhook
from claimx_worker.testing.kafka import KafkaBroker, TopicFactory
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.integration.actions_support import LogCapture, read_topic

pytestmark = pytest.mark.kafka

INSTANCE = "task_trigger"
TOKEN = "wh-tok-7d1c0a9e5b"
FAST = {"backoff_base": 0.01, "backoff_cap": 0.05}


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as server:
        yield server


@pytest.fixture
async def producer(kafka_broker: KafkaBroker) -> AsyncIterator[DeliveryProducer]:
    delivery = DeliveryProducer(
        kafka_broker.client_config(
            {"enable.idempotence": True, "linger.ms": 5, "message.timeout.ms": 1500}
        )
    )
    await delivery.start()
    yield delivery
    async with asyncio.timeout(10):
        await delivery.flush()
    await delivery.close()


@pytest.fixture
def dlq_topic(kafka_topic_factory: TopicFactory) -> str:
    return kafka_topic_factory(partitions=2)


@pytest.fixture
async def make_executor(
    producer: DeliveryProducer, dlq_topic: str
) -> AsyncIterator[Callable[..., ActionExecutor]]:
    client = webhook_exchange(allowed_destinations=())
    made: list[ActionExecutor] = []

    def make(
        secret_refs: dict[str, str] | None = None, dlq: str = dlq_topic, **settings: Any
    ) -> ActionExecutor:
        executor = ActionExecutor(
            ActionSettings(**settings),
            client=client,
            produce=producer.send,
            registry=CollectorRegistry(),
            dlq_topic=dlq,
            secret_refs=secret_refs,
        )
        made.append(executor)
        return executor

    yield make
    for executor in made:
        await executor.aclose()
    await client.aclose()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_publish_is_acknowledged_with_key_headers_and_json_value(
    kafka_broker: KafkaBroker,
    kafka_topic_factory: TopicFactory,
    make_executor: Callable[..., ActionExecutor],
) -> None:
    topic = kafka_topic_factory(partitions=3)
    executor = make_executor()
    actions = [
        PublishToTopic(topic=topic, value={"task_id": 456, "name": "Photo"}, headers={"src": "t"}),
        PublishToTopic(topic=topic, value=[1, "ü"], key="custom-key"),
        PublishToTopic(topic=topic, value=b"\x00raw"),
    ]
    with LogCapture() as logs:
        outcomes = await asyncio.gather(
            *(executor.submit("evt-1", "12345", INSTANCE, i, a) for i, a in enumerate(actions))
        )
    announced = [
        (r["message"], r["extra"]) for r in logs.records() if r["message"].startswith("Plugin")
    ]
    assert (
        announced
        == [("Plugin action: publish to topic", {"topic": topic, "event_id": "evt-1"})] * 3
    )
    assert [o.status for o in outcomes] == [OutcomeStatus.DELIVERED] * 3
    assert [o.attempts for o in outcomes] == [1, 1, 1]

    messages = await asyncio.to_thread(read_topic, kafka_broker, topic, expected=3)
    by_key = {dict(m.headers())["idempotency_key"].decode(): m for m in messages}
    assert set(by_key) == {idempotency_key("evt-1", INSTANCE, i) for i in range(3)}
    first, second, third = (by_key[idempotency_key("evt-1", INSTANCE, i)] for i in range(3))
    assert (first.key(), json.loads(first.value())) == (b"12345", {"task_id": 456, "name": "Photo"})
    assert dict(first.headers())["src"] == b"t"
    assert (second.key(), second.value()) == (b"custom-key", '[1,"ü"]'.encode())
    assert (third.key(), third.value()) == (b"12345", b"\x00raw")


async def test_a_404_lands_in_the_action_dlq_with_context_and_no_secret(
    kafka_broker: KafkaBroker,
    dlq_topic: str,
    receiver: WebhookReceiver,
    make_executor: Callable[..., ActionExecutor],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOK_TOKEN", TOKEN)
    receiver.behave("/gone", status=404)
    executor = make_executor(secret_refs=secret_refs_from_environ([], os.environ))
    action = Webhook(
        url=receiver.url("/gone"),
        headers={"Authorization": f"Bearer {os.environ['WEBHOOK_TOKEN']}"},
        body={"task_id": 456, "event": "CUSTOM_TASK_COMPLETED"},
    )
    with LogCapture() as logs:
        outcome = await executor.submit("evt-9", "12345", INSTANCE, 2, action)

    assert outcome.status is OutcomeStatus.DEAD_LETTERED
    assert outcome.attempts == 1  # a 404 is permanent: no retry
    (request,) = receiver.at("/gone")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    (message,) = await asyncio.to_thread(read_topic, kafka_broker, dlq_topic, expected=1)
    assert TOKEN.encode() not in message.value()
    assert message.key() == b"12345"
    assert dict(message.headers())["idempotency_key"] == outcome.idempotency_key.encode()
    record = DeadLetter.from_json(message.value())
    assert record.idempotency_key == idempotency_key("evt-9", INSTANCE, 2)
    assert (record.event_id, record.project_id, record.instance, record.action_index) == (
        "evt-9",
        "12345",
        INSTANCE,
        2,
    )
    assert (record.http_status, record.attempts, record.give_up) == (404, 1, "permanent")
    assert record.error == "HTTP 404 Not Found"
    assert record.action["url"] == receiver.url("/gone")
    assert record.action["headers"] == {"Authorization": "Bearer ${WEBHOOK_TOKEN}"}
    assert record.action["body"] == {"task_id": 456, "event": "CUSTOM_TASK_COMPLETED"}
    assert record.secret_vars == ("WEBHOOK_TOKEN",)
    assert record.first_attempt_at is not None
    assert logs.lines
    assert not [line for line in logs.lines if TOKEN in line]
    assert TOKEN not in repr(action)
    assert TOKEN not in repr(outcome)


async def test_unreachable_and_slow_endpoints_dead_letter_after_their_attempts(
    kafka_broker: KafkaBroker,
    dlq_topic: str,
    receiver: WebhookReceiver,
    make_executor: Callable[..., ActionExecutor],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOK_TOKEN", TOKEN)
    receiver.behave("/stuck", delay=2.0)
    executor = make_executor(
        secret_refs=secret_refs_from_environ([], os.environ),
        max_attempts=3,
        breaker_threshold=100,
        **FAST,
    )
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Api-Key": "literal-api-key-1"}
    with LogCapture() as logs:
        refused, timed_out = await asyncio.gather(
            executor.submit(
                "evt-1",
                "1",
                INSTANCE,
                0,
                Webhook(url=f"http://127.0.0.1:{_closed_port()}/x", headers=headers),
            ),
            executor.submit(
                "evt-2",
                "2",
                INSTANCE,
                0,
                Webhook(url=receiver.url("/stuck"), headers=headers, timeout=0.2),
            ),
        )
    assert (refused.status, refused.attempts) == (OutcomeStatus.DEAD_LETTERED, 3)
    assert (timed_out.status, timed_out.attempts) == (OutcomeStatus.DEAD_LETTERED, 3)
    messages = await asyncio.to_thread(read_topic, kafka_broker, dlq_topic, expected=2)
    records = {r.event_id: r for r in (DeadLetter.from_json(m.value()) for m in messages)}
    assert "ConnectError" in records["evt-1"].error
    timeout = records["evt-2"].error  # the first of httpx's timeout or the executor's own
    assert timeout == "timed out after 0.2s" or timeout.startswith("ReadTimeout"), timeout
    for record in records.values():
        assert (record.give_up, record.attempts, record.http_status) == ("max_attempts", 3, None)
        assert record.action["headers"] == {
            "Authorization": "Bearer ${WEBHOOK_TOKEN}",
            "X-Api-Key": "***",
        }
        assert record.masked_headers == ("X-Api-Key",)
    for text in [*logs.lines, *(m.value().decode() for m in messages)]:
        assert TOKEN not in text
        assert "literal-api-key-1" not in text


async def test_a_publish_that_cannot_be_delivered_is_retried_then_dead_lettered(
    kafka_broker: KafkaBroker,
    dlq_topic: str,
    make_executor: Callable[..., ActionExecutor],
) -> None:
    executor = make_executor(max_attempts=2, **FAST)
    action = PublishToTopic(topic="claimx.no-such-topic", value={"a": 1}, headers={"h": "v"})
    outcome = await executor.submit("evt-1", "777", INSTANCE, 0, action)
    assert (outcome.status, outcome.attempts) == (OutcomeStatus.DEAD_LETTERED, 2)
    (message,) = await asyncio.to_thread(read_topic, kafka_broker, dlq_topic, expected=1)
    record = DeadLetter.from_json(message.value())
    assert record.action == {
        "type": "publish_to_topic",
        "topic": "claimx.no-such-topic",
        "key": None,
        "headers": {"h": "v"},
        "value": {"a": 1},
    }
    assert "DeliveryError" in record.error
    assert record.give_up == "max_attempts"


async def test_a_failed_dlq_write_fails_the_action_without_leaking_secrets(
    receiver: WebhookReceiver,
    make_executor: Callable[..., ActionExecutor],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOK_TOKEN", TOKEN)
    receiver.behave("/gone", status=404)
    executor = make_executor(
        secret_refs=secret_refs_from_environ([], os.environ), dlq="claimx.no-such-dlq"
    )
    action = Webhook(url=receiver.url("/gone"), headers={"Authorization": f"Bearer {TOKEN}"})
    with LogCapture() as logs, pytest.raises(DeadLetterWriteError) as caught:
        await executor.submit("evt-1", "1", INSTANCE, 0, action)
    assert "claimx.no-such-dlq" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value.__cause__)
    assert not [line for line in logs.lines if TOKEN in line]


async def test_error_messages_naming_a_secret_are_scrubbed(
    kafka_broker: KafkaBroker,
    dlq_topic: str,
    producer: DeliveryProducer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOK_TOKEN", TOKEN)
    async with webhook_exchange(allowed_destinations=()) as client:
        executor = ActionExecutor(
            ActionSettings(max_attempts=1),
            client=client,
            produce=producer.send,
            registry=CollectorRegistry(),
            dlq_topic=dlq_topic,
            secret_refs=secret_refs_from_environ([], os.environ),
        )
        # httpx over aiohttp names the host in its connection errors.
        action = Webhook(url=f"http://{TOKEN}.invalid/hook")
        with LogCapture() as logs:
            outcome = await executor.submit("evt-1", "1", INSTANCE, 0, action)
    assert outcome.status is OutcomeStatus.DEAD_LETTERED
    assert "${WEBHOOK_TOKEN}.invalid" in (outcome.error or "")
    (message,) = await asyncio.to_thread(read_topic, kafka_broker, dlq_topic, expected=1)
    record = DeadLetter.from_json(message.value())
    assert record.action["url"] == "http://${WEBHOOK_TOKEN}.invalid/hook"
    assert record.error == outcome.error
    assert TOKEN.encode() not in message.value()
    assert not [line for line in logs.lines if TOKEN in line]
