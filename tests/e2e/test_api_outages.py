"""The ClaimX API down or rate limiting, through ``claimx-worker run``: every retry an event is
given reaches the API (an open circuit spends no attempt), and 429 answers slow the client down
instead of opening the circuit or dead-lettering events."""

from __future__ import annotations

import pytest

from claimx_worker.model import EventType
from claimx_worker.testing.claimx_api import ClaimXApiSimulator
from claimx_worker.testing.kafka import KafkaBroker
from tests.e2e.support import (
    DeployScenario,
    SentEvent,
    StartWorker,
    Topics,
    TopicTail,
    by_event,
    produce,
    wait_committed,
)

pytestmark = pytest.mark.kafka


def _project_events(count: int, prefix: str, first_project: int) -> list[SentEvent]:
    """Events of one API call each (the project export), each on a project of its own."""
    return [
        SentEvent(f"{prefix}-{i:03d}", EventType.PROJECT_CREATED, str(first_project + i))
        for i in range(count)
    ]


def test_every_retry_reaches_the_api_while_its_circuit_is_open(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
) -> None:
    events = _project_events(4, "outage", 31_000)
    claimx_api.knobs.error_rates = {503: 1.0}
    # The retry delays (1 s, 2 s) are shorter than the circuit's reset: before the fix, the
    # retries met the open circuit and were spent without a request.
    deployment = deploy_scenario(
        api={"retries": 0, "circuit_failure_threshold": 2, "circuit_reset_seconds": 2.5}
    )
    produce(kafka_broker, topics.pending, [e.message() for e in events])
    worker = start_worker(deployment.config, {})

    with TopicTail(kafka_broker, topics.dlq) as dlq:
        dlq.wait_for(
            lambda r: len(r) >= len(events), 150, what="every event dead-lettered", worker=worker
        )
        records = dlq.settle(0.5)
    attempts = 1 + len(topics.retry_delays)
    assert sorted(r.headers["claimx-attempts"] for r in records) == [str(attempts)] * len(events)
    assert all("503" in r.headers["claimx-error"] for r in records), records
    for event in events:  # the first attempt and every retry made a request
        assert claimx_api.calls[f"/export/project/{event.project_id}"] >= attempts, event
    output = worker.output()
    assert "ClaimX API circuit opened" in output  # the circuit was open meanwhile
    assert worker.terminate() == 0, output[-3000:]


def test_rate_limiting_slows_the_client_and_never_opens_the_circuit(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
) -> None:
    events = _project_events(40, "limited", 32_000)
    claimx_api.knobs.error_rates = {429: 0.3}
    claimx_api.knobs.retry_after_seconds = 1
    # Two failures in a row would open the circuit if a 429 counted as one.
    deployment = deploy_scenario(api={"circuit_failure_threshold": 2})
    produce(kafka_broker, topics.pending, [e.message() for e in events])
    worker = start_worker(deployment.config, {})

    with (
        TopicTail(kafka_broker, topics.enriched) as enriched,
        TopicTail(kafka_broker, topics.dlq) as dlq,
    ):
        enriched.wait_for(
            lambda r: len(by_event(r)) >= len(events), 150, what="every event", worker=worker
        )
        wait_committed(kafka_broker, deployment.group, topics.pending)
        assert dlq.settle(0.5) == []
        assert set(by_event(enriched.settle(0.5))) == {e.event_id for e in events}
    output = worker.output()
    assert "ClaimX API circuit" not in output  # never opened
    assert claimx_api.total_calls > len(events)  # 429s were answered and retried
    assert "ClaimX API asked to slow down" in output
    assert worker.terminate() == 0, output[-3000:]
