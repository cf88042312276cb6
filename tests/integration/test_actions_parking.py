"""Parking webhooks against real receivers on loopback: an endpoint that keeps failing gets its
actions parked on the action retry topic within ``park_after`` (the produce is captured: no
Kafka here), and a parked record is redelivered with its idempotency key, or dead-lettered past
the action's maximum age."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from prometheus_client import CollectorRegistry

from claimx_worker.actions import ActionExecutor, ActionSettings, OutcomeStatus, idempotency_key
from claimx_worker.actions.dead_letter import DeadLetter
from claimx_worker.http.connections import Connection, ConnectionConfig
from claimx_worker.http.exchange import Exchange, webhook_exchange
from claimx_worker.model import Webhook
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.integration.connections_support import free_port

INSTANCE = "task_trigger"
PARK_TOPIC = "claimx.actions.retry"
DLQ_TOPIC = "claimx.actions.dlq"
FAST = {"backoff_base": 0.01, "backoff_cap": 0.05, "breaker_threshold": 2, "breaker_reset": 0.2}


@attrs.define
class Produced:
    records: list[tuple[str, bytes, bytes | None, Any]] = attrs.field(factory=list)

    async def __call__(self, topic: str, value: bytes, key: bytes | None, headers: Any) -> None:
        self.records.append((topic, value, key, headers))

    def on(self, topic: str) -> list[tuple[str, bytes, bytes | None, Any]]:
        return [record for record in self.records if record[0] == topic]


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[Exchange]:
    async with webhook_exchange(allowed_destinations=()) as made:
        yield made


def _executor(
    client: Exchange,
    produced: Produced,
    connections: Mapping[str, Connection] | None = None,
    **settings: Any,
) -> ActionExecutor:
    return ActionExecutor(
        ActionSettings(**{**FAST, **settings}),
        client=client,
        produce=produced,
        registry=CollectorRegistry(),
        dlq_topic=DLQ_TOPIC,
        park_topic=PARK_TOPIC,
        connections=connections,
    )


async def test_a_failing_endpoint_gets_its_actions_parked_then_redelivered_in_order(
    receiver: WebhookReceiver, client: Exchange
) -> None:
    receiver.behave("/down", fail_until=time.monotonic() + 3600, fail_status=503)
    produced = Produced()
    executor = _executor(client, produced, park_after=0.5, max_age=60)
    started = time.monotonic()
    outcomes = await asyncio.gather(
        *(
            executor.submit(f"evt-{n}", "7", INSTANCE, 0, Webhook(url=receiver.url("/down")))
            for n in range(5)
        )
    )
    assert time.monotonic() - started < 3  # out of the events' way within seconds
    assert {o.status for o in outcomes} == {OutcomeStatus.PARKED}
    parked = produced.on(PARK_TOPIC)
    assert len(parked) == 5
    assert produced.on(DLQ_TOPIC) == []
    records = [DeadLetter.from_json(value) for _, value, _, _ in parked]
    assert {key for _, _, key, _ in parked} == {receiver.url("").encode()}  # keyed by endpoint
    assert all(r.give_up == "parked" and r.attempts >= 1 for r in records)
    assert [r.idempotency_key for r in records] == [
        dict(headers)["idempotency_key"].decode() for _, _, _, headers in parked
    ]

    receiver.behave("/down")  # the endpoint recovers
    for record in records:  # the parked runtime runs one endpoint's records one at a time
        action = Webhook(url=receiver.url("/down"))
        outcome = await executor.redeliver(record, action)
        assert outcome.status is OutcomeStatus.DELIVERED
        assert outcome.attempts > record.attempts
    delivered = [r.headers["idempotency-key"] for r in receiver.at("/down", ok=True)]
    assert delivered == [r.idempotency_key for r in records]  # in parked order
    # five concurrent actions park in the order their attempts gave up, not submission order
    assert sorted(delivered) == sorted(idempotency_key(f"evt-{n}", INSTANCE, 0) for n in range(5))
    await executor.aclose()


async def test_a_parked_action_past_its_maximum_age_is_dead_lettered(
    client: Exchange,
) -> None:
    produced = Produced()
    executor = _executor(client, produced, park_after=0.2, max_age=30)
    action = Webhook(url="http://127.0.0.1:9/refused")  # nothing listens on the discard port
    outcome = await executor.submit("evt-old", "7", INSTANCE, 0, action)
    assert outcome.status is OutcomeStatus.PARKED
    (parked,) = produced.on(PARK_TOPIC)
    record = DeadLetter.from_json(parked[1])
    old = attrs.evolve(
        record,
        first_attempt_at=datetime.now(UTC) - timedelta(seconds=29.5),
        dead_lettered_at=datetime.now(UTC) - timedelta(seconds=29.5),
    )
    started = time.monotonic()
    outcome = await executor.redeliver(old, action)
    assert outcome.status is OutcomeStatus.DEAD_LETTERED
    assert time.monotonic() - started < 5
    (dead,) = produced.on(DLQ_TOPIC)
    dead_record = DeadLetter.from_json(dead[1])
    assert dead_record.give_up == "max_age"
    assert dead_record.idempotency_key == record.idempotency_key
    await executor.aclose()


async def test_without_a_park_topic_nothing_is_parked(client: Exchange) -> None:
    produced = Produced()
    executor = ActionExecutor(
        ActionSettings(**FAST, park_after=0.1, max_age=0.5),
        client=client,
        produce=produced,
        registry=CollectorRegistry(),
        dlq_topic=DLQ_TOPIC,
    )
    outcome = await executor.submit(
        "evt-x", "7", INSTANCE, 0, Webhook(url="http://127.0.0.1:9/refused")
    )
    assert outcome.status is OutcomeStatus.DEAD_LETTERED
    assert produced.on(PARK_TOPIC) == []
    await executor.aclose()


async def test_a_connection_webhook_is_parked_under_its_connections_endpoint(
    client: Exchange,
) -> None:
    """Keyed like any webhook to that endpoint, not by its path (one queue for every connection)."""
    port = free_port()
    crm = Connection("crm", ConnectionConfig(base_url=f"http://127.0.0.1:{port}/crm"), "crm.yaml")
    produced = Produced()
    executor = _executor(client, produced, {"crm": crm}, park_after=0.2, max_age=30)
    action = Webhook(url="/tasks", connection="crm")
    outcome = await executor.submit("evt-crm", "7", INSTANCE, 0, action)
    assert outcome.status is OutcomeStatus.PARKED
    (parked,) = produced.on(PARK_TOPIC)
    assert parked[2] == f"http://127.0.0.1:{port}".encode()
    assert DeadLetter.from_json(parked[1]).action["url"] == "/tasks"
    await executor.aclose()
