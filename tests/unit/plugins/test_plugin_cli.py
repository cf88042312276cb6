"""``claimx-worker plugins list`` and ``plugins validate`` on valid configurations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from plugin_host_support import sample, write_instances

from claimx_worker.cli import cli

pytestmark = pytest.mark.usefixtures("plugin_modules", "restore_logging")


@pytest.fixture
def plugins_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_instances(
        tmp_path / "plugins",
        {
            "greeter": sample("EchoPlugin", priority=20, timeout_ms=5, config={"greeting": "x"}),
            "counter": sample("NoConfigPlugin", name="events", priority=10, mode="shadow"),
            "old": sample("EchoPlugin", enabled=False),
        },
    )
    (tmp_path / "plugins" / "drafts").mkdir()
    return Path("plugins")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["plugins", *args])


def test_list_json(plugins_dir: Path) -> None:
    result = invoke("list", "--json", "--plugins-dir", str(plugins_dir))

    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert {
        "name": "task_trigger",
        "value": "claimx_plugin_task_trigger:TaskTriggerPlugin",
    }.items() <= (next(p for p in listing["installed"] if p["name"] == "task_trigger").items())
    assert listing["plugins_dir"] == "plugins"
    assert listing["instances"] == [
        {
            "name": "events",
            "enabled": True,
            "mode": "shadow",
            "priority": 10,
            "timeout_ms": None,
            "source_dir": "plugins/counter",
            "plugin": None,
            "module": "claimx_test_plugins",
            "class": "NoConfigPlugin",
            "origin": "claimx_test_plugins:NoConfigPlugin",
            "hooks": ["on_enrichment_complete"],
            "problems": [],
        },
        {
            "name": "greeter",
            "enabled": True,
            "mode": "live",
            "priority": 20,
            "timeout_ms": 5.0,
            "source_dir": "plugins/greeter",
            "plugin": None,
            "module": "claimx_test_plugins",
            "class": "EchoPlugin",
            "origin": "claimx_test_plugins:EchoPlugin",
            "hooks": ["on_enrichment_complete", "on_load", "on_unload", "published_topics"],
            "problems": [],
        },
        {
            "name": "old",
            "enabled": False,
            "mode": "live",
            "priority": 100,
            "timeout_ms": None,
            "source_dir": "plugins/old",
            "plugin": None,
            "module": "claimx_test_plugins",
            "class": "EchoPlugin",
            "origin": None,
            "hooks": None,
            "problems": [],
        },
    ]
    assert listing["without_config"] == ["plugins/drafts"]


def test_list_text(plugins_dir: Path) -> None:
    result = invoke("list", "--plugins-dir", str(plugins_dir))

    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("Installed plugins (entry point group claimx.plugins):\n")
    assert "  task_trigger  claimx-plugin-task-trigger " in text
    assert "\n  NAME          DISTRIBUTION " in text
    assert text.endswith(
        "Instances in plugins (run order):\n"
        "  #  NAME     PRIORITY  STATUS    DIRECTORY        HOOKS OR FIRST PROBLEM\n"
        "  1  events   10        shadow    plugins/counter  on_enrichment_complete\n"
        "  2  greeter  20        enabled   plugins/greeter  "
        "on_enrichment_complete, on_load, on_unload, published_topics\n"
        "  -  old      100       disabled  plugins/old\n"
        "\n"
        "Directories without config.yaml (skipped): plugins/drafts\n"
    )
    assert result.stderr == (
        "WARNING: Plugin directory has no config.yaml; skipped | directory=plugins/drafts\n"
    )


@pytest.fixture
def with_invalid(plugins_dir: Path) -> Path:
    """The valid instances plus one with a config typo and one file that is not YAML."""
    write_instances(plugins_dir, {"typo": sample("EchoPlugin", priority=15, config={"greetin": 1})})
    (plugins_dir / "garbled").mkdir()
    (plugins_dir / "garbled" / "config.yaml").write_text("name: [unclosed\n")
    return plugins_dir


def test_list_shows_every_instance_and_marks_the_invalid_ones(with_invalid: Path) -> None:
    result = invoke("list", "--plugins-dir", str(with_invalid))

    assert result.exit_code == 2, result.output
    instances = result.stdout.split("Instances in plugins (run order):\n")[1]
    assert [" ".join(line.split()[:4]) for line in instances.splitlines()[:6]] == [
        "# NAME PRIORITY STATUS",
        "1 events 10 shadow",
        "2 typo 15 INVALID",
        "3 greeter 20 enabled",
        "- old 100 disabled",
        "- garbled - INVALID",
    ]
    assert (
        "plugins/typo/config.yaml:1: config.greetin: unknown key 'greetin', "
        "did you mean 'greeting'?" in instances
    )
    assert "Invalid configuration: 2 problems." in result.stderr


def test_list_json_carries_the_problems(with_invalid: Path) -> None:
    result = invoke("list", "--json", "--plugins-dir", str(with_invalid))

    assert result.exit_code == 2, result.output
    listing = json.loads(result.stdout)
    by_name = {instance["name"]: instance for instance in listing["instances"]}
    assert list(by_name) == ["events", "typo", "greeter", "old", "garbled"]
    assert by_name["greeter"]["problems"] == []
    assert by_name["typo"]["problems"] == [
        "plugins/typo/config.yaml:1: config.greetin: unknown key 'greetin', "
        "did you mean 'greeting'?"
    ]
    assert by_name["typo"]["hooks"] is None
    assert by_name["garbled"]["problems"][0].startswith("plugins/garbled/config.yaml:")


def test_validate_checks_everything_but_calls_no_on_load(plugins_dir: Path) -> None:
    import claimx_test_plugins  # type: ignore[import-not-found]

    result = invoke("validate", "--plugins-dir", str(plugins_dir))

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Plugin configuration is valid. Enabled instances in run order: events, greeter.\n"
    )
    assert claimx_test_plugins.EchoPlugin.journal == []


def test_empty_plugins_dir_disables_plugins(plugins_dir: Path) -> None:
    result = invoke("list", "--plugins-dir", "")

    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("\nPlugins are disabled (plugins_dir is empty).\n")


def test_plugins_dir_defaults_to_the_worker_settings(plugins_dir: Path, tmp_path: Path) -> None:
    settings = tmp_path / "worker.yaml"
    settings.write_text(
        "kafka:\n  claimx:\n    enrichment_worker:\n      processing:\n"
        "        plugins_dir: ${PLUGINS:-plugins}\n"
    )

    result = invoke("validate", "--config", str(settings))

    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("run order: events, greeter.\n")


def test_invalid_worker_settings_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("worker.yaml").write_text("kafka:\n  bootstrap_server: x\n")

    result = invoke("validate", "--config", "worker.yaml")

    assert result.exit_code == 2
    assert result.stderr == (
        "worker.yaml:2: kafka.bootstrap_server: unknown key 'bootstrap_server', "
        "did you mean 'bootstrap_servers'?\n"
        "Invalid configuration: 1 problem.\n"
    )


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        (
            "LOG_LEVEL",
            "bogus",
            "env LOG_LEVEL: unknown level 'bogus'; expected one of TRACE, DEBUG, INFO, SUCCESS, "
            "WARNING, ERROR, CRITICAL",
        ),
        ("LOG_FORMAT", "xml", "env LOG_FORMAT: unknown format 'xml'; expected 'human' or 'json'"),
    ],
)
@pytest.mark.parametrize("command", ["list", "validate"])
def test_an_unknown_log_level_or_format_is_a_problem_not_a_traceback(
    plugins_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    variable: str,
    value: str,
    problem: str,
) -> None:
    monkeypatch.setenv(variable, value)

    result = invoke(command, "--plugins-dir", str(plugins_dir))

    assert result.exit_code == 2
    assert result.stderr == f"{problem}\nInvalid configuration: 1 problem.\n"
