"""End-to-end fixtures: one test's topics, and worker subprocesses killed after the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from claimx_worker.testing.kafka import KafkaBroker
from tests.e2e.support import Topics, WorkerProcess


@pytest.fixture
def topics(kafka_broker: KafkaBroker) -> Iterator[Topics]:
    """Fresh topics (input: 3 partitions), deleted after the test."""
    created = Topics.unique()
    created.create(kafka_broker, partitions=3)
    yield created
    kafka_broker.delete_topics(created.all())


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    """Worker processes a test started; any still running afterwards is killed."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.kill()
