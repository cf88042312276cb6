"""Where settings come from: defaults, a file, the environment and options, in that order of
precedence (options strongest); the naming rule of environment variables; where each effective
value came from; and problems that name their source (``file:line``, ``env NAME``, ``option``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimx_worker.config.problems import ConfigError
from claimx_worker.observability.logs import LogFormat, LogLevel
from claimx_worker.settings import (
    SHORT_NAMES,
    Override,
    WorkerSettings,
    env_name,
    load_worker_config,
    set_overrides,
)

PORT = "metrics.port"
FILE_PORT = "metrics:\n  host: 127.0.0.1\n  port: 9200\n"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def settings_file(text: str) -> Path:
    path = Path("worker.yaml")
    path.write_text(text, encoding="utf-8")
    return path


def problems(
    path: Path | None, env: dict[str, str], options: tuple[Override, ...] = ()
) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_worker_config(path, env, options=options)
    return [str(problem) for problem in caught.value.problems]


# --------------------------------------------------------------------------- precedence


ENV_PORT = {"METRICS_PORT": "9300"}
SET_PORT = ("metrics.port=9400",)


@pytest.mark.parametrize(
    ("file", "env", "options", "port", "source"),
    [
        pytest.param(None, {}, (), 9100, "default", id="default"),
        pytest.param(FILE_PORT, {}, (), 9200, "worker.yaml:3", id="file-over-default"),
        pytest.param(None, ENV_PORT, (), 9300, "env METRICS_PORT", id="env-over-default"),
        pytest.param(None, {}, SET_PORT, 9400, "option --set", id="option-over-default"),
        pytest.param(FILE_PORT, ENV_PORT, (), 9300, "env METRICS_PORT", id="env-over-file"),
        pytest.param(FILE_PORT, {}, SET_PORT, 9400, "option --set", id="option-over-file"),
        pytest.param(None, ENV_PORT, SET_PORT, 9400, "option --set", id="option-over-env"),
        pytest.param(
            FILE_PORT,
            {"CLAIMX_WORKER_METRICS__PORT": "9300"},
            SET_PORT,
            9400,
            "option --set",
            id="option-over-env-over-file",
        ),
    ],
)
def test_options_beat_the_environment_which_beats_the_file_which_beats_defaults(
    file: str | None, env: dict[str, str], options: tuple[str, ...], port: int, source: str
) -> None:
    path = settings_file(file) if file is not None else None
    loaded = load_worker_config(path, env, options=set_overrides(options))
    assert loaded.value.metrics.port == port
    assert loaded.sources[PORT] == source


def test_without_a_file_every_setting_is_its_documented_default() -> None:
    loaded = load_worker_config(None, {})
    assert loaded.value == WorkerSettings()
    assert set(loaded.sources.values()) == {"default"}


def test_the_naming_rule_reaches_every_nested_key() -> None:
    env = {
        "CLAIMX_WORKER_KAFKA__CLAIMX__ENRICHMENT_WORKER__CONSUMER_GROUP": "group-7",
        "CLAIMX_WORKER_KAFKA__CLAIMX__ENRICHMENT_WORKER__TOPICS__PENDING": "in.7",
        "CLAIMX_WORKER_KAFKA__CLAIMX__ENRICHMENT_WORKER__PROCESSING__MAX_IN_FLIGHT": "64",
        "CLAIMX_WORKER_KAFKA__CREATE_TOPICS": "true",
        "CLAIMX_WORKER_CLAIMX_API__TIMEOUT_SECONDS": "2.5",
        "CLAIMX_WORKER_ACTIONS__MAX_ATTEMPTS": "3",
    }
    loaded = load_worker_config(None, env)
    worker = loaded.value.kafka.worker
    assert (worker.consumer_group, worker.topics.pending) == ("group-7", "in.7")
    assert worker.processing.max_in_flight == 64
    assert loaded.value.kafka.create_topics is True
    assert loaded.value.claimx_api.timeout_seconds == 2.5
    assert loaded.value.actions.max_attempts == 3
    key = "kafka.claimx.enrichment_worker.consumer_group"
    assert loaded.sources[key] == (
        "env CLAIMX_WORKER_KAFKA__CLAIMX__ENRICHMENT_WORKER__CONSUMER_GROUP"
    )
    assert env_name(key) == "CLAIMX_WORKER_KAFKA__CLAIMX__ENRICHMENT_WORKER__CONSUMER_GROUP"


def test_the_short_names() -> None:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": "broker-1:9092,broker-2:9092",
        "CLAIMX_API_URL": "https://claimx.example.com/api",
        "CLAIMX_API_TOKEN": "dXNlcjpwYXNz",
        "LOG_LEVEL": "warn",
        "LOG_FORMAT": "JSON",
        "PLUGINS_DIR": "/etc/claimx/plugins",
        "METRICS_HOST": "127.0.0.1",
        "METRICS_PORT": "9200",
    }
    loaded = load_worker_config(None, env)
    value = loaded.value
    assert value.kafka.bootstrap_servers == "broker-1:9092,broker-2:9092"
    assert value.claimx_api.base_url == "https://claimx.example.com/api"
    assert value.claimx_api.token == "dXNlcjpwYXNz"
    assert (value.logging.level, value.logging.format) == (LogLevel.WARNING, LogFormat.JSON)
    assert value.kafka.worker.processing.plugins_dir == "/etc/claimx/plugins"
    assert (value.metrics.host, value.metrics.port) == ("127.0.0.1", 9200)
    assert set(SHORT_NAMES) == set(env)
    assert {loaded.sources[key] for key in SHORT_NAMES.values()} == {f"env {n}" for n in env}
    assert "dXNlcjpwYXNz" in loaded.secrets


def test_the_long_name_beats_the_short_name() -> None:
    env = {"METRICS_PORT": "9200", "CLAIMX_WORKER_METRICS__PORT": "9300"}
    loaded = load_worker_config(None, env)
    assert loaded.value.metrics.port == 9300
    assert loaded.sources[PORT] == "env CLAIMX_WORKER_METRICS__PORT"


def test_an_empty_variable_counts_as_unset() -> None:
    loaded = load_worker_config(settings_file(FILE_PORT), {"METRICS_PORT": ""})
    assert loaded.value.metrics.port == 9200


def test_lists_and_mappings_come_from_yaml_flow_values_and_secrets_are_collected() -> None:
    env = {
        "CLAIMX_WORKER_KAFKA__CLAIMX__ENRICHMENT_WORKER__PROCESSING__RETRY_DELAYS": "[1s, 2s]",
        "CLAIMX_WORKER_KAFKA__COMMON": "{security.protocol: SASL_SSL, sasl.password: pw-s3cr3t}",
        "CLAIMX_WORKER_ACTIONS__ALLOWED_DESTINATIONS": '["hooks.example.com"]',
    }
    loaded = load_worker_config(None, env)
    assert loaded.value.kafka.worker.processing.retry_delays == ("1s", "2s")
    assert loaded.value.kafka.common == {
        "security.protocol": "SASL_SSL",
        "sasl.password": "pw-s3cr3t",
    }
    assert loaded.value.actions.allowed_destinations == ("hooks.example.com",)
    assert "pw-s3cr3t" in loaded.secrets


def test_an_environment_value_is_taken_literally() -> None:
    loaded = load_worker_config(None, {"CLAIMX_API_TOKEN": "a${NOT_EXPANDED}b$${x}"})
    assert loaded.value.claimx_api.token == "a${NOT_EXPANDED}b$${x}"


def test_the_file_keeps_its_variables_and_the_naming_rule_overrides_them() -> None:
    path = settings_file("claimx_api:\n  base_url: ${API_BASE:-https://default.example.com}\n")
    assert load_worker_config(
        path, {"API_BASE": "https://a.example.com"}
    ).value.claimx_api.base_url == ("https://a.example.com")
    loaded = load_worker_config(
        path, {"API_BASE": "https://a.example.com", "CLAIMX_API_URL": "https://b.example.com"}
    )
    assert loaded.value.claimx_api.base_url == "https://b.example.com"
    assert loaded.sources["claimx_api.base_url"] == "env CLAIMX_API_URL"


def test_a_whole_mapping_from_the_file_has_the_line_of_its_key() -> None:
    path = settings_file("kafka:\n  consumer:\n    session.timeout.ms: 6000\n")
    loaded = load_worker_config(path, {})
    assert loaded.sources["kafka.consumer"] == "worker.yaml:2"
    assert loaded.sources["kafka.producer"] == "default"


# --------------------------------------------------------------------------- problems


def test_a_bad_environment_value_names_the_variable_and_the_setting() -> None:
    assert problems(None, {"METRICS_PORT": "ninety"}) == [
        "env METRICS_PORT: metrics.port: expected an integer, got the string 'ninety'"
    ]
    assert problems(None, {"LOG_LEVEL": "LOUD"}) == [
        "env LOG_LEVEL: logging.level: expected one of 'TRACE', 'DEBUG', 'INFO', 'SUCCESS', "
        "'WARNING', 'ERROR', 'CRITICAL', got the string 'LOUD'"
    ]


def test_problems_from_every_source_are_reported_together() -> None:
    path = settings_file("metrics:\n  port: -1\n")
    found = problems(
        path,
        {"CLAIMX_WORKER_ACTIONS__MAX_ATTEMPTS": "0", "CLAIMX_API_URL": "claimx.example.com"},
        set_overrides(["kafka.topic_partitions=many"]),
    )
    assert found == [
        "env CLAIMX_API_URL: claimx_api.base_url: not an http(s) URL: 'claimx.example.com' "
        "(write e.g. https://www.claimxperience.com/service/cxedirest)",
        "env CLAIMX_WORKER_ACTIONS__MAX_ATTEMPTS: actions.max_attempts: "
        "'max_attempts' must be > 0: 0",
        "option --set: kafka.topic_partitions: expected an integer, got the string 'many'",
        "worker.yaml:2: metrics.port: 'port' must be >= 0: -1",
    ]


def test_an_unknown_prefixed_variable_is_an_error_with_the_nearest_name() -> None:
    assert problems(None, {"CLAIMX_WORKER_KAFKA__BOOTSTRAP_SERVER": "x:9092"}) == [
        "env CLAIMX_WORKER_KAFKA__BOOTSTRAP_SERVER: kafka.bootstrap_server: unknown setting, "
        "did you mean CLAIMX_WORKER_KAFKA__BOOTSTRAP_SERVERS (kafka.bootstrap_servers)?"
    ]
    assert problems(None, {"CLAIMX_WORKER_KAFKA__CONSUMER_GROUP": "g"}) == [
        "env CLAIMX_WORKER_KAFKA__CONSUMER_GROUP: kafka.consumer_group: unknown setting, "
        "did you mean CLAIMX_WORKER_KAFKA__CLAIMX__ENRICHMENT_WORKER__CONSUMER_GROUP "
        "(kafka.claimx.enrichment_worker.consumer_group)?"
    ]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "CLAIMX_WORKER_KAFKA",
            "x",
            "kafka: a section, not a setting: set one of its keys, "
            "e.g. CLAIMX_WORKER_KAFKA__BOOTSTRAP_SERVERS",
        ),
        (
            "CLAIMX_WORKER_KAFKA__COMMON__SASL_PASSWORD",
            "x",
            "kafka.common.sasl_password: kafka.common is one setting: set "
            "CLAIMX_WORKER_KAFKA__COMMON to a YAML mapping, e.g. '{key: value}'",
        ),
        (
            "CLAIMX_WORKER_KAFKA__COMMON",
            "{unclosed",
            "kafka.common: expected a YAML mapping, e.g. '{key: value}': invalid YAML",
        ),
        (
            "CLAIMX_WORKER_KAFKA__CLAIMX__ENRICHMENT_WORKER__PROCESSING__RETRY_DELAYS",
            "5m",
            "kafka.claimx.enrichment_worker.processing.retry_delays: expected a list, "
            "got the string '5m'",
        ),
    ],
)
def test_sections_mapping_members_and_bad_collections_are_explained(
    variable: str, value: str, message: str
) -> None:
    (problem,) = problems(None, {variable: value})
    assert problem.startswith(f"env {variable}: {message}")


def test_a_bad_option_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match=r"--set expects KEY=VALUE, got 'metrics\.port'"):
        set_overrides(["metrics.port"])


def test_a_problem_across_sources_names_both() -> None:
    path = settings_file(
        "kafka:\n  claimx:\n    enrichment_worker:\n      processing:\n        max_in_flight: 10\n"
    )
    env = {"CLAIMX_WORKER_KAFKA__CLAIMX__ENRICHMENT_WORKER__PROCESSING__LOW_WATER_MARK": "20"}
    assert problems(path, env) == [
        "worker.yaml:4, env CLAIMX_WORKER_KAFKA__CLAIMX__ENRICHMENT_WORKER__PROCESSING__"
        "LOW_WATER_MARK: kafka.claimx.enrichment_worker.processing: low_water_mark must be at "
        "least 0 and below max_in_flight (10)"
    ]


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("kafka:\n  consumer_group: g\n", "kafka.claimx.enrichment_worker.consumer_group"),
        ("plugins_dir: plugins\n", "kafka.claimx.enrichment_worker.processing.plugins_dir"),
        ("kafka:\n  consumer_grop: g\n", "kafka.claimx.enrichment_worker.consumer_group"),
    ],
)
def test_a_key_in_the_wrong_place_suggests_its_full_path(text: str, suggestion: str) -> None:
    (problem,) = problems(settings_file(text), {})
    assert problem.endswith(f"did you mean '{suggestion}'?")
