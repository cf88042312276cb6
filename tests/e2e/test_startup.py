"""Start-up through ``claimx-worker run``: with no settings file (defaults and the environment
only), and a topic a trigger publishes to must exist."""

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


# --------------------------------------------------------------------------- from the wheel alone


def topic_environment(topics: Topics) -> dict[str, str]:
    """The scenario's topics, retry delays and a unique group, by the environment naming rule."""
    worker = "CLAIMX_WORKER_KAFKA__CLAIMX__ENRICHMENT_WORKER__"
    names = {
        "PENDING": topics.pending,
        "ENRICHED": topics.enriched,
        "DOWNLOADS": topics.downloads,
        "RETRY_PREFIX": topics.retry_prefix,
        "DLQ": topics.dlq,
        "ACTIONS_DLQ": topics.actions_dlq,
    }
    return {
        **{f"{worker}TOPICS__{key}": name for key, name in names.items()},
        f"{worker}CONSUMER_GROUP": f"e2e-{topics.pending}",
        f"{worker}PROCESSING__RETRY_DELAYS": f"[{', '.join(topics.retry_delays)}]",
    }


def test_run_without_a_settings_file_starts_on_defaults_and_the_environment(
    kafka_broker: KafkaBroker, topics: Topics, start_worker: StartWorker, tmp_path: Path
) -> None:
    env = {
        **topic_environment(topics),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
        "METRICS_PORT": "0",
    }

    worker = start_worker(None, env, directory=tmp_path)

    worker.wait_for_log("Kafka runtime started")
    assert worker.terminate() == 0
    output = worker.output()
    assert "config=(none)" in output
    assert f"input_topic={topics.pending}" in output
    assert "Traceback" not in output
