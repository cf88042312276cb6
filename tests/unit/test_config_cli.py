"""``claimx-worker config init``, ``config show`` and ``config validate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from claimx_worker.cli import cli
from claimx_worker.settings import WorkerSettings, load_settings
from claimx_worker.settings.schema import setting_keys

SECRET = "pw-0f1e2d3c4b5a"
TOKEN = "dG9rZW4tdmFsdWU="


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "LOG_LEVEL", "LOG_FORMAT", "CLAIMX_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["config", *args], env=env)


def test_init_writes_every_key_with_its_default_and_refuses_to_overwrite() -> None:
    result = invoke("init")

    assert result.exit_code == 0, result.output
    written = Path("config/claimx_config.yaml")
    assert result.stdout == f"Wrote {written}: every setting with its default.\n"
    assert load_settings(written, {}) == WorkerSettings()

    again = invoke("init")
    assert again.exit_code == 2
    assert again.stderr == f"Error: {written} exists; use --force to overwrite it.\n"

    written.write_text("metrics:\n  port: 1\n")
    assert invoke("init", "--force").exit_code == 0
    assert load_settings(written, {}) == WorkerSettings()


def test_init_to_a_path_or_to_stdout() -> None:
    assert invoke("init", "deploy/worker.yaml").exit_code == 0
    printed = invoke("init", "-")
    assert printed.exit_code == 0
    assert printed.stdout == Path("deploy/worker.yaml").read_text(encoding="utf-8")
    assert "  bootstrap_servers: localhost:9092  # env KAFKA_BOOTSTRAP_SERVERS\n" in printed.stdout


def test_init_where_it_cannot_write_exits_2() -> None:
    Path("taken").write_text("a file, not a directory\n")

    result = invoke("init", "taken/worker.yaml")

    assert result.exit_code == 2
    assert result.stderr.startswith("Error: cannot write taken/worker.yaml: ")


def test_validate_exits_0_for_a_valid_file_and_2_with_every_problem() -> None:
    Path("good.yaml").write_text("metrics:\n  port: 9200\n")
    Path("bad.yaml").write_text("kafka:\n  consumer_group: g\nmetrics:\n  port: -1\n")

    good = invoke("validate", "good.yaml")
    bad = invoke("validate", "bad.yaml")
    missing = invoke("validate", "missing.yaml")

    assert (good.exit_code, good.stdout) == (0, "Settings are valid: good.yaml.\n")
    assert bad.exit_code == 2
    assert bad.stderr == (
        "bad.yaml:2: kafka.consumer_group: unknown key 'consumer_group', "
        "did you mean 'kafka.claimx.enrichment_worker.consumer_group'?\n"
        "bad.yaml:4: metrics.port: 'port' must be >= 0: -1\n"
        "Invalid configuration: 2 problems.\n"
    )
    assert missing.exit_code == 2
    assert "missing.yaml: cannot read the file" in missing.stderr


def test_validate_takes_the_file_as_every_command_does_too() -> None:
    """``--config FILE``, as ``run``, ``show`` and ``simulate`` take it; not both ways at once."""
    Path("good.yaml").write_text("metrics:\n  port: 9200\n")
    Path("other.yaml").write_text("metrics:\n  port: 9300\n")

    named = invoke("validate", "--config", "good.yaml")
    both = invoke("validate", "other.yaml", "--config", "good.yaml")

    assert (named.exit_code, named.stdout) == (0, "Settings are valid: good.yaml.\n")
    assert both.exit_code == 2
    assert "give the settings file once: PATH or --config" in both.stderr


def test_validate_without_a_file_checks_the_environment() -> None:
    fine = invoke("validate", env={"METRICS_PORT": "9200"})
    wrong = invoke("validate", env={"METRICS_PORT": "x"})

    assert (fine.exit_code, fine.stdout) == (
        0,
        "Settings are valid: no settings file, defaults and environment.\n",
    )
    assert wrong.exit_code == 2
    assert wrong.stderr.startswith("env METRICS_PORT: metrics.port: expected an integer")


def show_rows(result: Result) -> dict[str, tuple[str, str]]:
    """key -> (value, source) from ``config show``'s table."""
    header, *lines = result.stdout.splitlines()
    assert header.split() == ["SETTING", "VALUE", "SOURCE"]
    value_at, source_at = header.index("VALUE"), header.index("SOURCE")
    return {
        line[:value_at].strip(): (line[value_at:source_at].strip(), line[source_at:].strip())
        for line in lines
    }


def test_show_prints_each_value_with_its_source_and_masks_secrets() -> None:
    Path("worker.yaml").write_text(
        "kafka:\n"
        "  bootstrap_servers: kafka.internal:9092\n"
        "  common:\n"
        "    sasl.password: ${SASL_PASSWORD}\n"
        "metrics:\n"
        "  port: 9200\n"
    )
    env = {"SASL_PASSWORD": SECRET, "CLAIMX_API_TOKEN": TOKEN, "METRICS_HOST": "127.0.0.1"}

    options = ("--config", "worker.yaml", "--set", "metrics.port=9400", "--plugins-dir", "")
    result = invoke("show", *options, env=env)

    assert result.exit_code == 0, result.output
    rows = show_rows(result)
    assert rows["kafka.bootstrap_servers"] == ("kafka.internal:9092", "worker.yaml:2")
    assert rows["kafka.common"] == ('{sasl.password: "***"}', "worker.yaml:3")
    assert rows["claimx_api.token"] == ('"***"', "env CLAIMX_API_TOKEN")
    assert rows["metrics.host"] == ("127.0.0.1", "env METRICS_HOST")
    assert rows["metrics.port"] == ("9400", "option --set")
    assert rows["kafka.claimx.enrichment_worker.processing.plugins_dir"] == (
        '""',
        "option --plugins-dir",
    )
    assert rows["actions.max_attempts"] == ("8", "default")
    assert len(rows) == len(setting_keys())
    assert SECRET not in result.output
    assert TOKEN not in result.output


def test_show_json() -> None:
    result = invoke("show", "--json", env={"CLAIMX_API_TOKEN": TOKEN})

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["claimx_api.token"] == {"value": "***", "source": "env CLAIMX_API_TOKEN"}
    assert shown["kafka.claimx.enrichment_worker.processing.retry_delays"] == {
        "value": ["5m", "10m", "20m", "40m"],
        "source": "default",
    }
    assert TOKEN not in result.output


def test_show_reports_problems_like_validate() -> None:
    result = invoke("show", "--set", "metrics.prot=1")

    assert result.exit_code == 2
    assert result.stderr == (
        "option --set: metrics.prot: unknown setting, did you mean 'metrics.port'?\n"
        "Invalid configuration: 1 problem.\n"
    )
