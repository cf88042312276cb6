"""A webhook endpoint that refuses connections, through ``claimx-worker run``: its actions are
parked on the action retry topic within seconds, so the events' offsets keep committing; when the
endpoint is back, every parked action is delivered, in parking order, with its idempotency key;
and a kill -9 mid-outage redoes nothing that was committed."""

from __future__ import annotations

from collections import Counter

import pytest

from claimx_worker.model import EventType
from claimx_worker.testing.claimx_api import ClaimXApiSimulator
from claimx_worker.testing.kafka import KafkaBroker
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.e2e.support import (
    DAMAGE,
    DAMAGE_PATH,
    DeployScenario,
    StartWorker,
    Topics,
    TopicTail,
    expected_actions,
    produce,
    task_events,
    wait_committed,
)

pytestmark = pytest.mark.kafka

COMMIT_TIMEOUT = 40.0
"""Well under the actions' maximum age (300 s here): commits do not wait for the endpoint."""


def _first_seen(keys: list[str]) -> list[str]:
    return list(dict.fromkeys(keys))


def test_a_dead_endpoint_does_not_freeze_the_partition(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    webhook_receiver: WebhookReceiver,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
) -> None:
    assigned = EventType.CUSTOM_TASK_ASSIGNED
    before_kill = task_events(30, prefix="dead-a", template=DAMAGE, event_type=assigned)
    after_kill = task_events(
        30, prefix="dead-b", template=DAMAGE, event_type=assigned, project=4000
    )
    hooks = {a.idempotency_key for a in expected_actions([*before_kill, *after_kill])}
    assert len(hooks) == 60  # one webhook each, all to the one endpoint
    deployment = deploy_scenario(actions={"max_age": 300})
    webhook_receiver.stop()  # the endpoint refuses connections from now on

    produce(kafka_broker, topics.pending, [e.message() for e in before_kill])
    first = start_worker(deployment.config, {}, name="first")
    with TopicTail(kafka_broker, topics.enriched) as enriched:
        enriched.wait_for(lambda r: len(r) >= len(before_kill), 60, what="rows", worker=first)
        wait_committed(kafka_broker, deployment.group, topics.pending, COMMIT_TIMEOUT)
        first.alive()
        first.kill()  # kill -9 mid-outage

        produce(kafka_broker, topics.pending, [e.message() for e in after_kill])
        second = start_worker(deployment.config, {}, name="second")
        enriched.wait_for(lambda r: len(r) >= 60, 60, what="rows", worker=second)
        wait_committed(kafka_broker, deployment.group, topics.pending, COMMIT_TIMEOUT)
        second.alive()
        assert webhook_receiver.requests == []  # nothing got through meanwhile

        webhook_receiver.start_in_thread()  # the endpoint is back
        webhook_receiver.wait_until(
            lambda: (
                {r.headers["idempotency-key"] for r in webhook_receiver.at(DAMAGE_PATH)} >= hooks
            ),
            timeout=90,
        )
        rows = enriched.settle(0.5)

    # The kill redid nothing already committed: each event was enriched once.
    enrichments = Counter(r.json()["event_id"] for r in rows)
    assert enrichments == {e.event_id: 1 for e in [*before_kill, *after_kill]}
    # None lost, none dead-lettered; the parked actions were delivered in parking order.
    with TopicTail(kafka_broker, topics.actions_dlq) as action_dlq:
        assert action_dlq.settle(0.5) == []
    with TopicTail(kafka_broker, topics.actions_retry) as parked_topic:
        parked = _first_seen([r.headers["idempotency_key"] for r in parked_topic.settle(0.5)])
    assert set(parked) == hooks
    delivered = _first_seen(
        [r.headers["idempotency-key"] for r in webhook_receiver.requests if r.status == 200]
    )
    assert delivered == parked
    output = second.output()
    assert "Webhook action parked" in first.output()
    assert "Traceback" not in output
    assert second.terminate() == 0, output[-3000:]
