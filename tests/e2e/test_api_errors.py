"""ClaimX API errors through ``claimx-worker run``: a failed API call during enrichment sends the
event through the retry topics and the worker carries on."""

from __future__ import annotations

import pytest

from claimx_worker.model import EventType
from claimx_worker.testing.claimx_api import ClaimXApiSimulator, Endpoint
from claimx_worker.testing.kafka import KafkaBroker
from tests.e2e.support import (
    PHOTO,
    DeployScenario,
    StartWorker,
    Topics,
    TopicTail,
    by_event,
    produce,
    task_events,
)

pytestmark = pytest.mark.kafka


def test_failed_api_calls_are_retried_and_the_worker_carries_on(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
) -> None:
    # Task events fetch the assignment and the (uncached) project concurrently; the assignment
    # calls fail first, while the project calls are still in flight.
    events = task_events(
        20, prefix="api", template=PHOTO, event_type=EventType.CUSTOM_TASK_ASSIGNED
    )
    claimx_api.knobs.latency_seconds = 0.05
    claimx_api.fail_next(*[503] * 5, endpoint=Endpoint.TASK_ASSIGNMENT)
    claimx_api.fail_next(*[404] * 2, endpoint=Endpoint.TASK_ASSIGNMENT)
    deployment = deploy_scenario(
        api={"retries": 0},  # a 503 goes to the retry topic at once
    )
    produce(kafka_broker, topics.pending, [e.message() for e in events])
    worker = start_worker(deployment.config, {})

    with (
        TopicTail(kafka_broker, topics.enriched) as enriched,
        TopicTail(kafka_broker, topics.dlq) as dlq,
    ):
        enriched.wait_for(
            lambda r: len(r) >= len(events) - 2, 60, what="entity rows", worker=worker
        )
        dlq.wait_for(lambda r: len(r) >= 2, 30, what="the two 404s dead-lettered")
        worker.alive()
        assert len(by_event(enriched.settle(0.5))) == len(events) - 2
        assert len(dlq.settle(0.5)) == 2
    output = worker.output()
    retried = [line for line in output.splitlines() if "sent to a retry topic" in line]
    assert len(retried) == 5
    assert all("error=" in line and "503" in line for line in retried), retried  # says why
    assert "Traceback" not in output
    assert worker.terminate() == 0, output[-3000:]
