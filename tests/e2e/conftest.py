"""End-to-end fixtures: one test's topics, its deployment, and worker subprocesses killed after
the test."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from claimx_worker.testing.claimx_api import ClaimXApiSimulator
from claimx_worker.testing.kafka import KafkaBroker
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.e2e.support import (
    DAMAGE_PATH,
    PHOTO_PATH,
    Deployment,
    DeployScenario,
    StartWorker,
    Topics,
    WorkerProcess,
    deploy,
    trigger_config,
)


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
        config: Path | None,
        env: Mapping[str, str] | None = None,
        name: str = "worker",
        directory: Path | None = None,
    ) -> WorkerProcess:
        worker = WorkerProcess(config, env or {}, name, directory=directory)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


@pytest.fixture
def deploy_scenario(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    webhook_receiver: WebhookReceiver,
    tmp_path: Path,
) -> DeployScenario:
    """Writes the scenario's trigger instance (both webhooks on ``webhook_receiver``, messages to
    ``topics.triggers``) and the worker settings in ``tmp_path``; keyword arguments go to
    :func:`~tests.e2e.support.deploy` (``actions``, ``processing``, ``api``)."""

    def deploy_it(**settings: Any) -> Deployment:
        trigger = trigger_config(
            topics.triggers, webhook_receiver.url(PHOTO_PATH), webhook_receiver.url(DAMAGE_PATH)
        )
        return deploy(
            tmp_path,
            broker=kafka_broker,
            topics=topics,
            api_url=claimx_api.base_url,
            trigger=trigger,
            **settings,
        )

    return deploy_it
