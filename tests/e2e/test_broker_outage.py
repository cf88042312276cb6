"""A broker restart under ``claimx-worker run``, counted in log lines: one when the connection is
lost, a summary while it stays down, one when it is back; and the worker carries on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from claimx_worker.kafka.outages import SUMMARY_SECONDS
from claimx_worker.model import EventType
from claimx_worker.testing.claimx_api import ClaimXApiSimulator
from claimx_worker.testing.kafka import LocalKafkaBroker
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.e2e.support import (
    DAMAGE,
    DAMAGE_PATH,
    PHOTO_PATH,
    Topics,
    TopicTail,
    WorkerProcess,
    deploy,
    produce,
    task_events,
    trigger_config,
)

pytestmark = pytest.mark.kafka


@pytest.fixture
def own_broker() -> Iterator[LocalKafkaBroker]:
    """A broker of this test's own, since the test restarts it."""
    with LocalKafkaBroker() as broker:
        yield broker


def test_a_broker_restart_is_logged_in_a_few_lines(
    own_broker: LocalKafkaBroker, tmp_path: Path
) -> None:
    topics = Topics.unique()
    topics.create(own_broker, partitions=3)
    with ClaimXApiSimulator() as api, WebhookReceiver() as receiver:
        deployment = deploy(
            tmp_path,
            broker=own_broker,
            topics=topics,
            api_url=api.base_url,
            trigger=trigger_config(
                topics.triggers, receiver.url(PHOTO_PATH), receiver.url(DAMAGE_PATH)
            ),
        )
        worker = WorkerProcess(deployment.config, {})
        try:
            worker.wait_for_log("Partitions assigned")
            before = len(worker.output().splitlines())
            stopped = time.monotonic()
            # down longer than one summary interval whatever the JVM's start takes (5-15 s)
            own_broker.restart(down_for=SUMMARY_SECONDS + 2)
            down = time.monotonic() - stopped
            assert down > SUMMARY_SECONDS, "too short an outage for a summary"
            events = task_events(
                10, prefix="after", template=DAMAGE, event_type=EventType.CUSTOM_TASK_ASSIGNED
            )
            produce(own_broker, topics.pending, [e.message() for e in events])
            with TopicTail(own_broker, topics.enriched) as enriched:
                enriched.wait_for(
                    lambda r: len(r) >= len(events), 120, what="rows after", worker=worker
                )
            worker.wait_for_log("Kafka connection restored", timeout=30)
        finally:
            worker.kill()
    lines = worker.output().splitlines()[before:]
    noisy = [line for line in lines if line.startswith(("WARNING", "ERROR"))]
    print(f"{len(lines)} lines, {len(noisy)} warnings or errors over a {down:.0f} s outage")

    def count(text: str) -> int:
        return sum(text in line for line in lines)

    assert count("Kafka connection lost") == 1
    assert 1 <= count("Kafka still unreachable") <= down // SUMMARY_SECONDS + 1
    assert count("Kafka connection restored") == 1
    assert count("Connection refused") <= 2  # the lost line, and a summary's last error
    assert len(noisy) <= 12, "\n".join(noisy)
