"""The parked-action redelivery on a real broker: a parked webhook is delivered with its
idempotency key and its record committed; a forged record (a destination the configuration does
not name) and a value that is no record at all are never sent, and go to the action DLQ with the
reason."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import attrs
import httpx
import pytest
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import CollectorRegistry

from claimx_worker.actions import ActionExecutor, ActionRef, ActionSettings
from claimx_worker.actions.dead_letter import ReplayScope, dead_letter
from claimx_worker.actions.identity import KAFKA_IDEMPOTENCY_HEADER
from claimx_worker.actions.parking import GROUP_SUFFIX, ParkedActions
from claimx_worker.actions.replay import Scopes
from claimx_worker.actions.retry import DeliveryReport, GiveUp
from claimx_worker.actions.secrets import SecretScrubber
from claimx_worker.actions.webhook import endpoint_of_text
from claimx_worker.kafka import DeliveryProducer
from claimx_worker.kafka.clients import producer_config
from claimx_worker.model import Webhook
from claimx_worker.observability.redaction import Redactor
from claimx_worker.testing.kafka import KafkaBroker, TopicFactory
from claimx_worker.testing.webhooks import WebhookReceiver
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


async def test_parked_records_are_redelivered_and_forged_ones_dead_lettered(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    base = kafka_settings(kafka_broker, kafka_topic_factory)
    topics = attrs.evolve(
        base.worker.topics, actions_retry=base.worker.topics.pending + ".actions-retry"
    )
    settings = attrs.evolve(
        base,
        claimx=attrs.evolve(
            base.claimx, enrichment_worker=attrs.evolve(base.worker, topics=topics)
        ),
    )
    kafka_topic_factory(2, name=topics.actions_retry)
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
        async with httpx.AsyncClient() as client:
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


def _committed(broker: KafkaBroker, group: str, topic: str) -> int:

    consumer = Consumer(broker.client_config({"group.id": group, "enable.auto.commit": False}))
    try:
        offsets = consumer.committed([TopicPartition(topic, p) for p in range(2)], timeout=10)
        return sum(max(tp.offset, 0) for tp in offsets)
    finally:
        consumer.close()
