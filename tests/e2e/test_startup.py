"""Start-up through ``claimx-worker run``: with no settings file (defaults and the environment
only), and every way it stops at once: a missing trigger topic, a misspelt librdkafka property, a
metrics port in use, an unreachable broker, a bad API URL (exit 2, one line, no traceback)."""

from __future__ import annotations

import socket
from pathlib import Path

import attrs
import pytest

from claimx_worker.testing.claimx_api import ClaimXApiSimulator
from claimx_worker.testing.kafka import KafkaBroker
from tests.e2e.support import StartWorker, Topics, deploy, run_cli, trigger_config

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


@pytest.mark.parametrize("role", ["enriched", "actions_dlq"])
def test_a_missing_topic_of_the_worker_stops_start_up_naming_it_once(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    start_worker: StartWorker,
    tmp_path: Path,
    role: str,
) -> None:
    """The parked-action redelivery needs the worker's topics too: it reports none itself."""
    missing = f"{getattr(topics, role)}.misspelt"
    trigger = trigger_config(
        topics.triggers, "http://127.0.0.1:9/photo", "http://127.0.0.1:9/damage"
    )
    deployment = deploy(
        tmp_path,
        broker=kafka_broker,
        topics=attrs.evolve(topics, **{role: missing}),
        api_url=claimx_api.base_url,
        trigger=trigger,
    )

    worker = start_worker(deployment.config, {})

    assert worker.process.wait(60) == 2
    output = worker.output()
    errors = [line for line in output.splitlines() if line.startswith("ERROR: ")]
    assert errors == [
        "ERROR: Missing Kafka topics: create them, or set kafka.create_topics: true (local use)"
        f" | topics={missing}"
    ]
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
        "ACTIONS_RETRY": topics.actions_retry,
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


# --------------------------------------------------------------------------- start-up failures


def start_up_failure(
    env: dict[str, str], directory: Path, command: tuple[str, ...] = ("run",)
) -> str:
    """Run ``claimx-worker run`` (or ``command``; no settings file) to its end; its one error
    line, after checking exit status 2 and that nothing but INFO lines came before it."""
    finished = run_cli(*command, env={"METRICS_PORT": "0", **env}, cwd=directory)
    assert finished.returncode == 2, finished.stderr
    assert "Traceback" not in finished.stderr + finished.stdout
    lines = [line for line in finished.stderr.splitlines() if not line.startswith("INFO: ")]
    assert len(lines) == 1, finished.stderr
    return lines[0]


def test_a_misspelt_librdkafka_property_names_it_and_its_setting(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
        "CLAIMX_WORKER_KAFKA__CONSUMER": "{sesion.timeout.ms: 6000}",
    }
    line = start_up_failure(env, tmp_path)
    assert line == (
        'ERROR: Cannot start: kafka.consumer: No such configuration property: "sesion.timeout.ms"'
        " | setting=kafka.consumer source=env CLAIMX_WORKER_KAFKA__CONSUMER"
    )


@pytest.mark.parametrize("command", [("run",), ("tables", "run")])
def test_a_metrics_port_in_use_names_it_and_its_setting(
    kafka_broker: KafkaBroker, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """The worker and the table writer alike."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
            "METRICS_HOST": "127.0.0.1",
            "METRICS_PORT": str(port),
        }
        line = start_up_failure(env, tmp_path, command)
    assert line == (
        f"ERROR: Cannot start: metrics.port: 127.0.0.1:{port} is already in use"
        " | setting=metrics.port source=env METRICS_PORT"
    )


def test_an_unreachable_broker_names_it_and_its_setting(tmp_path: Path) -> None:
    no_plugins = tmp_path / "plugins"
    no_plugins.mkdir()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{closed.getsockname()[1]}"  # bound, never listening: refused
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": address,
            "CLAIMX_WORKER_KAFKA__STARTUP_TIMEOUT_SECONDS": "2",
            "PLUGINS_DIR": str(no_plugins),
        }
        line = start_up_failure(env, tmp_path)
    assert line.startswith(
        f"ERROR: Cannot start: kafka.bootstrap_servers: no Kafka broker answered at {address}"
        " within 2 s: "
    )
    assert line.endswith(" | setting=kafka.bootstrap_servers source=env KAFKA_BOOTSTRAP_SERVERS")


def test_a_bad_api_url_names_it_and_its_setting(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
        "CLAIMX_API_URL": "claimx.example.com/service",
    }
    finished = run_cli("run", env=env, cwd=tmp_path)
    assert finished.returncode == 2
    assert finished.stderr == (
        "env CLAIMX_API_URL: claimx_api.base_url: not an http(s) URL: "
        "'claimx.example.com/service' (write e.g. "
        "https://www.claimxperience.com/service/cxedirest)\n"
        "Invalid configuration: 1 problem.\n"
    )
