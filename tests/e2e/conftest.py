"""End-to-end fixtures: one test's topics, and worker subprocesses killed after the test."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from claimx_worker.testing.kafka import KafkaBroker
from tests.e2e.support import StartWorker, Topics, WorkerProcess


@pytest.fixture
def topics(kafka_broker: KafkaBroker) -> Iterator[Topics]:
    """Fresh topics (input: 3 partitions), deleted after the test."""
    created = Topics.unique()
    created.create(kafka_broker, partitions=3)
    yield created
    kafka_broker.delete_topics(created.all())


@pytest.fixture
def start_worker() -> Iterator[StartWorker]:
    """Starts ``claimx-worker run`` subprocesses; any still running after the test is killed."""
    started: list[WorkerProcess] = []

    def start(
        config: Path, env: Mapping[str, str] | None = None, name: str = "worker"
    ) -> WorkerProcess:
        worker = WorkerProcess(config, env or {}, name)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()
