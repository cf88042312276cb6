"""The parked-action redelivery on a real broker: a parked webhook is delivered with its
idempotency key and its record committed; a forged record (a destination the configuration does
not name) and a value that is no record at all are never sent, and go to the action DLQ with the
reason."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import CollectorRegistry

from claimx_worker.actions import ActionExecutor, ActionRef, ActionSettings, OutcomeStatus
from claimx_worker.actions.dead_letter import ReplayScope, dead_letter
from claimx_worker.actions.identity import KAFKA_IDEMPOTENCY_HEADER
from claimx_worker.actions.parking import GROUP_SUFFIX, ParkedActions
from claimx_worker.actions.replay import Scopes
from claimx_worker.actions.retry import DeliveryReport, GiveUp
from claimx_worker.actions.secrets import SecretScrubber
from claimx_worker.actions.webhook import endpoint_of_text
from claimx_worker.http.connections import load_connections
from claimx_worker.http.exchange import webhook_exchange
from claimx_worker.kafka import DeliveryProducer
from claimx_worker.kafka.clients import producer_config
from claimx_worker.kafka.settings import KafkaSettings
from claimx_worker.model import Webhook
from claimx_worker.observability.redaction import Redactor
from claimx_worker.replay_scopes import replay_scopes
from claimx_worker.testing.kafka import KafkaBroker, TopicFactory
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.integration.connections_support import CRM_TOKEN, free_port, write_down_connection
from tests.integration.runtime_support import kafka_settings, produce, read_topic

pytestmark = pytest.mark.kafka

INSTANCE = "task_trigger"


def _parked(url: str, event_id: str) -> tuple[bytes, bytes, list[tuple[str, str | bytes]]]:
    ref = ActionRef(event_id=event_id, project_id="7", instance=INSTANCE, index=0)
    report = DeliveryReport(
        delivered=False,
        attempts=2,
        give_up=GiveUp.PARKED,
        error="ConnectError",
        first_attempt_at=datetime.now(UTC),
    )
    record = dead_letter(ref, Webhook(url=url), report, SecretScrubber({}), ActionSettings())
    key = endpoint_of_text(url).encode()
    return key, record.to_json(), [(KAFKA_IDEMPOTENCY_HEADER, ref.key)]


def _with_retry_topic(broker: KafkaBroker, topic_factory: TopicFactory) -> KafkaSettings:
    """Kafka settings of fresh topics, the action retry topic created."""
    base = kafka_settings(broker, topic_factory)
    topics = attrs.evolve(
        base.worker.topics, actions_retry=base.worker.topics.pending + ".actions-retry"
    )
    topic_factory(2, name=topics.actions_retry)
    return attrs.evolve(
        base,
        claimx=attrs.evolve(
            base.claimx, enrichment_worker=attrs.evolve(base.worker, topics=topics)
        ),
    )


async def test_parked_records_are_redelivered_and_forged_ones_dead_lettered(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    settings = _with_retry_topic(kafka_broker, kafka_topic_factory)
    topics = settings.worker.topics
    async with WebhookReceiver() as receiver, WebhookReceiver() as elsewhere:
        scope = ReplayScope(
            variables=frozenset(),
            destinations=frozenset({endpoint_of_text(receiver.url(""))}),
            topics=frozenset(),
            settings=ActionSettings(),
        )
        good = _parked(receiver.url("/hooks/ok"), "evt-good")
        forged = _parked(elsewhere.url("/steal"), "evt-forged")
        produce(kafka_broker, topics.actions_retry, [good, forged, (b"x", b"not json", None)])

        producer = DeliveryProducer(producer_config(settings))
        await producer.start()
        async with webhook_exchange(allowed_destinations=()) as client:
            executor = ActionExecutor(
                ActionSettings(),
                client=client,
                produce=producer.send,
                registry=CollectorRegistry(),
                dlq_topic=topics.actions_dlq,
            )
            parked = ParkedActions(
                settings,
                executor,
                Scopes(by_instance={INSTANCE: scope}, environ={}),
                redactor=Redactor(),
            )
            await parked.start()
            await receiver.wait_for(lambda: len(receiver.at("/hooks/ok", ok=True)) == 1)
            dead = await asyncio.to_thread(read_topic, kafka_broker, topics.actions_dlq, 2)
            await parked.stop()
            await executor.aclose()
        await producer.close()

        (request,) = receiver.requests
        assert request.headers["idempotency-key"] == dict(good[2])[KAFKA_IDEMPOTENCY_HEADER]
        assert elsewhere.requests == []  # the forged destination was never called
    reasons = sorted(dict(m.headers())["claimx-error"].decode() for m in dead)
    assert "is not one the configuration of instance 'task_trigger' names" in reasons[1]
    assert reasons[0].startswith("not a parked action record")
    assert sorted(m.value() for m in dead) == sorted([forged[1], b"not json"])
    lag = await asyncio.to_thread(
        _committed,
        kafka_broker,
        settings.worker.consumer_group + GROUP_SUFFIX,
        topics.actions_retry,
    )
    assert lag == 3  # all three records committed


async def test_a_connection_webhook_parked_while_its_endpoint_is_down_is_delivered_later(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory, tmp_path: Path
) -> None:
    """Parked, its record holds a path: redelivered through the connection (the worker's
    scopes and executor connections), with the connection's authentication."""
    settings = _with_retry_topic(kafka_broker, kafka_topic_factory)
    topics = settings.worker.topics
    port = free_port()
    write_down_connection(tmp_path, INSTANCE, port, max_attempts=1000)
    env = {"CRM_TOKEN": CRM_TOKEN}
    connections = load_connections(tmp_path, env=env).connections
    actions = ActionSettings(park_after=0.3, max_age=60, breaker_reset=0.2)
    producer = DeliveryProducer(producer_config(settings))
    await producer.start()
    async with webhook_exchange(allowed_destinations=()) as client:
        executor = ActionExecutor(
            actions,
            client=client,
            produce=producer.send,
            registry=CollectorRegistry(),
            dlq_topic=topics.actions_dlq,
            park_topic=topics.actions_retry,
            connections=connections,
        )
        action = Webhook(url="/tasks?n=1", connection="crm", body={"n": 1})
        outcome = await executor.submit("evt-crm", "7", INSTANCE, 0, action)
        assert outcome.status is OutcomeStatus.PARKED

        async with WebhookReceiver(port=port) as crm:
            scopes = replay_scopes(tmp_path, env, actions, connections=connections)
            parked = ParkedActions(settings, executor, scopes, redactor=Redactor([CRM_TOKEN]))
            await parked.start()
            await crm.wait_for(lambda: len(crm.at("/crm/tasks", ok=True)) == 1)
            await parked.stop()
        await executor.aclose()
    await producer.close()

    (request,) = crm.requests
    assert request.headers["idempotency-key"] == outcome.idempotency_key
    assert request.headers["authorization"] == f"Bearer {CRM_TOKEN}"
    assert json.loads(request.body) == {"n": 1}


def _committed(broker: KafkaBroker, group: str, topic: str) -> int:

    consumer = Consumer(broker.client_config({"group.id": group, "enable.auto.commit": False}))
    try:
        offsets = consumer.committed([TopicPartition(topic, p) for p in range(2)], timeout=10)
        return sum(max(tp.offset, 0) for tp in offsets)
    finally:
        consumer.close()
