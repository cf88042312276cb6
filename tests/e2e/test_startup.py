"""Start-up checks through ``claimx-worker run``: a topic a trigger publishes to must exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimx_worker.testing.claimx_api import ClaimXApiSimulator
from claimx_worker.testing.kafka import KafkaBroker
from tests.e2e.support import StartWorker, Topics, deploy, trigger_config

pytestmark = pytest.mark.kafka


def test_a_missing_trigger_topic_stops_start_up_naming_it(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    missing = f"{topics.triggers}.misspelt"
    trigger = trigger_config(missing, "http://127.0.0.1:9/photo", "http://127.0.0.1:9/damage")
    deployment = deploy(
        tmp_path, broker=kafka_broker, topics=topics, api_url=claimx_api.base_url, trigger=trigger
    )

    worker = start_worker(deployment.config, {})

    assert worker.process.wait(60) == 2
    output = worker.output()
    assert (
        "ERROR: Missing Kafka topics: create them, or set kafka.create_topics: true (local use)"
        f" | topics={missing}\n"
    ) in output
    assert "Traceback" not in output
