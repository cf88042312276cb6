"""Worker settings: the default file, environment overrides, and errors with file:line."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from claimx_worker.config.problems import ConfigError
from claimx_worker.kafka.clients import producer_config
from claimx_worker.kafka.settings import (
    EventLoopKind,
    KafkaSettings,
    ProcessingSettings,
    parse_delay,
)
from claimx_worker.settings import WorkerSettings, load_settings, load_worker_config

REPO = Path(__file__).resolve().parents[2]
DEFAULT_FILE = REPO / "config" / "claimx_config.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "claimx_config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_file_loads_to_the_documented_defaults() -> None:
    settings = load_settings(DEFAULT_FILE, {})
    assert settings == WorkerSettings()
    worker = settings.kafka.worker
    assert worker.consumer_group == "claimx-enrichment-worker"
    assert worker.topics.pending == "claimx.enrichment.pending"
    assert worker.processing.plugins_dir == "plugins/config"
    assert worker.processing.plugin_timeout_ms == 50.0
    assert worker.processing.plugin_lifecycle_timeout_seconds == 10.0
    assert worker.retry_topics() == {
        "claimx.enrichment.retry.5m": 300.0,
        "claimx.enrichment.retry.10m": 600.0,
        "claimx.enrichment.retry.20m": 1200.0,
        "claimx.enrichment.retry.40m": 2400.0,
    }
    assert (settings.metrics.host, settings.metrics.port) == ("0.0.0.0", 9100)


def test_environment_fills_and_overrides_values() -> None:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": "broker-1:9092,broker-2:9092",
        "CLAIMX_API_TOKEN": "dXNlcjpwYXNz",
        "METRICS_PORT": "9200",
        "METRICS_HOST": "127.0.0.1",
    }
    loaded = load_worker_config(DEFAULT_FILE, env)
    assert loaded.value.kafka.bootstrap_servers == "broker-1:9092,broker-2:9092"
    assert loaded.value.claimx_api.token == "dXNlcjpwYXNz"
    assert (loaded.value.metrics.host, loaded.value.metrics.port) == ("127.0.0.1", 9200)
    assert "dXNlcjpwYXNz" in loaded.secrets
    assert "dXNlcjpwYXNz" not in repr(loaded.value)


def test_kafka_bootstrap_servers_wins_over_a_literal_in_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "kafka:\n  bootstrap_servers: kafka.internal:9092\n")
    assert load_settings(path, {}).kafka.bootstrap_servers == "kafka.internal:9092"
    override = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092"}
    assert load_settings(path, override).kafka.bootstrap_servers == "127.0.0.1:19092"


def test_event_hubs_properties_pass_through_and_the_password_is_a_secret(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
kafka:
  bootstrap_servers: ns.servicebus.windows.net:9093
  common:
    security.protocol: SASL_SSL
    sasl.mechanism: PLAIN
    sasl.username: $ConnectionString
    sasl.password: ${EVENTHUBS_CONNECTION_STRING}
  producer:
    linger.ms: 20
    compression.type: lz4
""",
    )
    secret = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKey=abc123"
    loaded = load_worker_config(path, {"EVENTHUBS_CONNECTION_STRING": secret})
    kafka = loaded.value.kafka
    assert kafka.common["sasl.username"] == "$ConnectionString"
    assert kafka.common["sasl.password"] == secret
    assert kafka.producer == {"linger.ms": 20, "compression.type": "lz4"}
    assert secret in loaded.secrets
    assert secret not in repr(loaded.value)


def test_unknown_keys_are_errors_with_file_line_and_a_suggestion(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
kafka:
  claimx:
    enrichment_worker:
      processing:
        max_inflight: 10
        retry_delays: [5m, 10]
""",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    text = str(caught.value)
    assert "claimx_config.yaml:5: kafka.claimx.enrichment_worker.processing.max_inflight" in text
    assert "did you mean 'max_in_flight'" in text
    assert "retry_delays" in text
    assert ":6:" in text


def test_an_unset_variable_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "kafka:\n  common:\n    sasl.password: ${SASL_PASSWORD}\n")
    with pytest.raises(ConfigError, match="SASL_PASSWORD"):
        load_settings(path, {})


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0)]
)
def test_delays(text: str, seconds: float) -> None:
    assert parse_delay(text) == seconds


@pytest.mark.parametrize("text", ["5", "0m", "5 m", "1d", "-1s", ""])
def test_bad_delays(text: str) -> None:
    with pytest.raises(ValueError, match="not a retry delay"):
        parse_delay(text)


def test_processing_bounds() -> None:
    assert ProcessingSettings().max_in_flight == 2000
    assert ProcessingSettings().resume_at == 1000
    assert ProcessingSettings(max_in_flight=10, low_water_mark=3).resume_at == 3
    with pytest.raises(ValueError, match="low_water_mark"):
        ProcessingSettings(max_in_flight=10, low_water_mark=10)
    with pytest.raises(ValueError, match="distinct"):
        ProcessingSettings(retry_delays=("5m", "5m"))
    with pytest.raises(ValueError, match="plugin_lifecycle_timeout_seconds"):
        ProcessingSettings(plugin_lifecycle_timeout_seconds=0)


def test_plugins_can_be_disabled(tmp_path: Path) -> None:
    text = 'kafka:\n  claimx:\n    enrichment_worker:\n      processing:\n        plugins_dir: ""\n'
    path = write(tmp_path, text)
    assert load_settings(path, {}).kafka.worker.processing.plugins_dir == ""


def test_event_loop_defaults_to_auto_and_a_bad_value_names_file_line_and_choices(
    tmp_path: Path,
) -> None:
    assert ProcessingSettings().event_loop is EventLoopKind.AUTO
    text = "kafka:\n  claimx:\n    enrichment_worker:\n      processing:\n        event_loop: {}\n"
    assert load_settings(write(tmp_path, text.format("asyncio")), {}).kafka.worker.processing == (
        ProcessingSettings(event_loop=EventLoopKind.ASYNCIO)
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text.format("trio")), {})
    text = str(caught.value)
    assert "claimx_config.yaml:5: kafka.claimx.enrichment_worker.processing.event_loop" in text
    assert "'auto', 'uvloop', 'asyncio'" in text


def test_event_loop_uvloop_is_an_error_when_uvloop_is_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match="uvloop is not installed"):
        ProcessingSettings(event_loop=EventLoopKind.UVLOOP)


def test_producer_lingers_5_ms_unless_the_operator_sets_it_and_is_always_idempotent() -> None:
    # 25 ms halved the runtime's passthrough rate: acknowledgements bound the events in flight
    default = producer_config(KafkaSettings())
    assert (default["linger.ms"], default["enable.idempotence"]) == (5, True)
    custom = producer_config(KafkaSettings(producer={"linger.ms": 50, "enable.idempotence": False}))
    assert (custom["linger.ms"], custom["enable.idempotence"]) == (50, True)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("kafka:\n  producer:\n    linger.ms: [5]\n", "2: kafka.producer"),
        (
            "kafka:\n  claimx:\n    enrichment_worker:\n      processing:\n"
            "        max_in_flight: 10\n        retry_delays: [5m, 5m]\n",
            "6: kafka.claimx.enrichment_worker.processing.retry_delays",
        ),
    ],
)
def test_validator_problems_name_the_setting_and_its_line(
    tmp_path: Path, text: str, where: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), {})
    assert [f"{p.line}: {p.key}" for p in caught.value.problems] == [where]


def test_signing_secrets_per_endpoint_and_allowed_destinations(tmp_path: Path) -> None:
    text = """\
actions:
  signing_secret: ${DEFAULT_SIGNING}
  endpoint_signing_secrets:
    https://hooks.example.com: ${HOOKS_SIGNING}
    http://127.0.0.1:8099/: literal-secret
  allowed_destinations: [hooks.example.com, "*.crm.example.net"]
"""
    env = {"DEFAULT_SIGNING": "whsec_ZGVmYXVsdA==", "HOOKS_SIGNING": "hooks-signing-secret"}
    loaded = load_worker_config(write(tmp_path, text), env)
    actions = loaded.value.actions
    assert actions.endpoint_signing_secrets == {
        "https://hooks.example.com:443": "hooks-signing-secret",
        "http://127.0.0.1:8099": "literal-secret",
    }
    assert actions.allowed_destinations == ("hooks.example.com", "*.crm.example.net")
    assert "hooks-signing-secret" not in repr(loaded.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("  signing_secret: ''", "actions.signing_secret: must not be empty"),
        (
            "  endpoint_signing_secrets: {https://h.example.com/path: s3cr3t-value}",
            "is not an endpoint",
        ),
        (
            "  endpoint_signing_secrets: {https://h.example.com: ''}",
            "actions.endpoint_signing_secrets: the value of 'https://h.example.com' is empty",
        ),
    ],
)
def test_bad_signing_settings_name_file_line_and_key(
    tmp_path: Path, line: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, f"actions:\n{line}\n"), {})
    assert message in str(caught.value)
    assert "claimx_config.yaml:2" in str(caught.value)
    assert "s3cr3t-value" not in str(caught.value)
