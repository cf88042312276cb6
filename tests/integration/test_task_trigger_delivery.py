"""End to end: the shipped task trigger instance, its actions delivered by the action executor to
a real Kafka broker and a real webhook receiver on loopback, and its metric counted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from claimx_worker import HandlerMetadata, PublishToTopic, Webhook
from claimx_worker.actions import ActionExecutor, ActionSettings, OutcomeStatus, idempotency_key
from claimx_worker.http.exchange import webhook_exchange
from claimx_worker.kafka.producer import DeliveryProducer
from claimx_worker.plugins.host import PluginHost
from claimx_worker.testing.kafka import KafkaBroker, TopicFactory
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.integration.actions_support import LogCapture, read_topic
from tests.unit.task_trigger.support import task_event, task_row, task_rows

pytestmark = pytest.mark.kafka

PLUGINS_CONFIG = Path(__file__).resolve().parents[2] / "plugins" / "config"
TOKEN = "tok-e2e-5f0c2a"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as server:
        yield server


@pytest.fixture
async def producer(kafka_broker: KafkaBroker) -> AsyncIterator[DeliveryProducer]:
    delivery = DeliveryProducer(
        kafka_broker.client_config({"enable.idempotence": True, "linger.ms": 5})
    )
    await delivery.start()
    yield delivery
    async with asyncio.timeout(10):
        await delivery.flush()
    await delivery.close()


async def test_shipped_instance_delivers_to_kafka_and_webhooks(
    kafka_broker: KafkaBroker,
    kafka_topic_factory: TopicFactory,
    producer: DeliveryProducer,
    receiver: WebhookReceiver,
) -> None:
    topic = kafka_topic_factory(partitions=2)
    env = {
        "TASK_TRIGGER_TOPIC": topic,
        "TASK_TRIGGER_WEBHOOK_URL": receiver.url("/hooks/task-trigger"),
        "DAMAGE_ASSESSMENT_WEBHOOK_URL": receiver.url("/hooks/damage-assessment"),
        "WEBHOOK_TOKEN": TOKEN,
    }
    registry = CollectorRegistry()
    host = PluginHost.load(PLUGINS_CONFIG, env=env, registry=registry)
    await host.start()
    events = [
        (task_event("CUSTOM_TASK_COMPLETED", event_id="evt-photo"), 456, "COMPLETED"),
        (task_event("CUSTOM_TASK_ASSIGNED", event_id="evt-damage-1"), 789, "ASSIGNED"),
        (task_event("CUSTOM_TASK_COMPLETED", event_id="evt-damage-2"), 789, "COMPLETED"),
    ]
    async with webhook_exchange(allowed_destinations=()) as client:
        executor = ActionExecutor(
            ActionSettings(),
            client=client,
            produce=producer.send,
            registry=registry,
            dlq_topic=kafka_topic_factory(),
        )
        submitted = []
        with LogCapture() as logs:
            for event, template, status in events:
                rows = task_rows(task_row(template, status=status, event_id=event.event_id))
                result = await host.run_enrichment_complete(event, rows, HandlerMetadata())
                submitted += [
                    (
                        event.event_id,
                        planned,
                        executor.submit(
                            event.event_id,
                            event.project_id,
                            planned.instance,
                            planned.index,
                            planned.action,
                        ),
                    )
                    for planned in result.actions
                ]
            outcomes = await asyncio.gather(*(future for _, _, future in submitted))
        await executor.aclose()
    await host.stop()

    assert [o.status for o in outcomes] == [OutcomeStatus.DELIVERED] * 9
    published = {
        idempotency_key(event_id, planned.instance, planned.index): planned.action
        for event_id, planned, _ in submitted
        if isinstance(planned.action, PublishToTopic)
    }
    messages = await asyncio.to_thread(read_topic, kafka_broker, topic, expected=2)
    assert len(messages) == 2
    for message in messages:
        headers = {name: value.decode() for name, value in message.headers()}
        action = published[headers.pop("idempotency_key")]
        assert headers == action.headers
        assert message.key().decode() == action.key
        assert json.loads(message.value()) == action.value
    keys = sorted(message.key() for message in messages)
    assert keys == [b"12345", b"98765"]  # 456: the project id; 789: key "{assignment_id}"

    webhooks = {
        idempotency_key(event_id, planned.instance, planned.index): planned.action
        for event_id, planned, _ in submitted
        if isinstance(planned.action, Webhook)
    }
    assert len(receiver.requests) == 2
    for request in receiver.requests:
        hook = webhooks[request.headers["idempotency-key"]]
        assert isinstance(hook, Webhook)
        assert request.method == "POST"
        assert receiver.url(request.path) == hook.url
        assert json.loads(request.body) == hook.body
        assert request.headers["content-type"] == "application/json"
    photo = receiver.at("/hooks/task-trigger")[0]
    assert photo.headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(photo.body)["trigger_name"] == "Photo Documentation Task"

    messages_logged = [record["message"] for record in logs.records()]
    assert "Photo documentation completed: assignment 98765 on project 12345" in messages_logged
    assert (
        "Damage Assessment CUSTOM_TASK_ASSIGNED: assignment 98765 on project 12345"
        in messages_logged
    )
    assert not any(TOKEN in line for line in logs.lines)
    counted = registry.get_sample_value(
        "claimx_plugin_damage_assessment_tasks_total",
        {"template": "789", "instance": "task_trigger"},
    )
    assert counted == 2.0
