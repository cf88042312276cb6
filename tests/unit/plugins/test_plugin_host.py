"""Loading and the lifecycle: on_load in priority order, on_unload reversed and isolated."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from plugin_host_support import journal, sample, start_failure, write_instances
from prometheus_client import CollectorRegistry

from claimx_worker.cli import exit_with_config_error
from claimx_worker.config.problems import ConfigError, ConfigProblem
from claimx_worker.plugins.discovery import InstalledPlugin
from claimx_worker.plugins.host import PluginHost
from claimx_worker.plugins.loading import load_plugins

pytestmark = pytest.mark.usefixtures("plugin_modules")


async def test_on_load_in_priority_order_on_unload_in_reverse(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    plugins_dir = write_instances(
        tmp_path,
        {
            "b": sample("EchoPlugin", priority=20, config={"greeting": "bee"}),
            "a": sample("EchoPlugin", priority=30),
            "c": sample("EchoPlugin", priority=10),
        },
    )
    host = PluginHost.load(plugins_dir, env={}, registry=registry)

    assert journal() == []  # loading validates; it calls no hook
    await host.start()
    assert journal() == ["load c", "load b", "load a"]
    assert host.instances[1].plugin.config.greeting == "bee"  # type: ignore[attr-defined]
    await host.stop()
    assert journal()[3:] == ["unload a", "unload b", "unload c"]
    labels = {"instance": "b", "hook": "on_load"}
    assert registry.get_sample_value("claimx_plugin_calls_total", labels) == 1


async def test_on_load_failure_stops_start_up_naming_the_instance(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    plugins_dir = write_instances(
        tmp_path,
        {
            "first": sample("EchoPlugin", priority=1),
            "rules": sample(
                "FailingLoadPlugin",
                priority=2,
                config={"greeting": "hello", "headers": {"Authorization": "${RULES_TOKEN}"}},
            ),
            "never": sample("EchoPlugin", priority=3),
        },
    )
    host = PluginHost.load(plugins_dir, env={"RULES_TOKEN": "Bearer s3cr3t"}, registry=registry)

    assert await start_failure(host) == (
        f"{tmp_path}/rules/config.yaml:1: on_load of instance 'rules' raised "
        "RuntimeError: cannot reach the rules service with hello ***"
    )
    assert journal() == ["load first", "unload first"]
    labels = {"instance": "rules", "hook": "on_load", "kind": "exception"}
    assert registry.get_sample_value("claimx_plugin_errors_total", labels) == 1
    assert host.secrets == {"Bearer s3cr3t"}


async def test_published_topics_are_collected_at_start(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    plugins_dir = write_instances(
        tmp_path,
        {
            "a": sample("EchoPlugin", config={"on_completed": "claimx.alerts"}),
            "b": sample("EchoPlugin", config={"on_completed": {"topic": "claimx.audit"}}),
            "c": sample("EchoPlugin"),
            "d": sample("NoConfigPlugin"),
        },
    )
    host = PluginHost.load(plugins_dir, env={}, registry=registry)
    assert host.published_topics == frozenset()

    await host.start()

    assert host.published_topics == {"claimx.alerts", "claimx.audit"}
    await host.stop()


async def test_published_topics_that_are_not_a_collection_stop_start_up(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    plugins_dir = write_instances(
        tmp_path,
        {"first": sample("EchoPlugin", priority=1), "alerts": sample("TopicNamePlugin")},
    )
    host = PluginHost.load(plugins_dir, env={}, registry=registry)

    assert await start_failure(host) == (
        f"{tmp_path}/alerts/config.yaml:1: published_topics of instance 'alerts' raised "
        "TypeError: expected a collection of topic names, got str"
    )
    assert journal() == ["load first", "unload first"]


def test_a_config_error_exits_2_with_the_report() -> None:
    problem = ConfigProblem("f.yaml", 1, "", "on_load of instance 'rules' raised RuntimeError")

    @click.command()
    def start() -> None:
        exit_with_config_error(ConfigError([problem]))

    result = CliRunner().invoke(start)

    assert result.exit_code == 2
    assert result.stderr == (
        "f.yaml:1: on_load of instance 'rules' raised RuntimeError\n"
        "Invalid configuration: 1 problem.\n"
    )


async def test_on_unload_errors_are_isolated(
    tmp_path: Path, registry: CollectorRegistry, log_lines: list[str]
) -> None:
    plugins_dir = write_instances(
        tmp_path,
        {
            "a": sample("EchoPlugin", priority=1),
            "b": sample("FailingUnloadPlugin", priority=2),
            "c": sample("EchoPlugin", priority=3),
        },
    )
    host = PluginHost.load(plugins_dir, env={}, registry=registry)
    await host.start()

    await host.stop()

    assert journal() == ["load a", "load c", "unload c", "unload a"]
    (error,) = [line for line in log_lines if line.startswith("ERROR")]
    assert error.startswith("ERROR: Plugin on_unload raised; the other instances still unload")
    assert "instance=b error=RuntimeError: b cannot say goodbye" in error


def test_missing_directory_is_a_warning(tmp_path: Path, log_lines: list[str]) -> None:
    plugins = load_plugins(tmp_path / "absent", env={})

    assert plugins.instances == ()
    assert log_lines == [
        f"WARNING: Plugins directory not found | plugins_dir={tmp_path / 'absent'}"
    ]


def test_disabled_plugins_load_nothing() -> None:
    assert load_plugins(None, env={}).instances == ()


def test_directory_without_config_yaml_is_reported_not_fatal(
    tmp_path: Path, log_lines: list[str]
) -> None:
    write_instances(tmp_path, {"echo": sample("EchoPlugin")})
    (tmp_path / "notes").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "README.md").write_text("instances live in sub-directories\n")

    plugins = load_plugins(tmp_path, env={})

    assert [instance.name for instance in plugins.instances] == ["echo"]
    assert plugins.without_config == (tmp_path / "notes",)
    assert log_lines == [
        f"WARNING: Plugin directory has no config.yaml; skipped | directory={tmp_path / 'notes'}"
    ]


def test_instance_defaults(tmp_path: Path) -> None:
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "config.yaml").write_text(
        "module: claimx_test_plugins\nclass: EchoPlugin\n"
    )

    (instance,) = load_plugins(tmp_path, env={}).instances

    spec = instance.spec
    assert (spec.name, spec.enabled, spec.priority, spec.timeout_ms) == ("echo", True, 100, None)
    assert instance.origin == "claimx_test_plugins:EchoPlugin"
    assert instance.hooks == ("on_enrichment_complete", "on_load", "on_unload", "published_topics")
    assert instance.config.greeting == "hi"


def test_variables_are_expanded_in_instance_keys_and_config(tmp_path: Path) -> None:
    write_instances(
        tmp_path,
        {
            "echo": sample(
                "EchoPlugin",
                priority="${ECHO_PRIORITY:-7}",
                enabled="${ECHO_ENABLED}",
                config={"greeting": "$${literal} ${GREETING}"},
            )
        },
    )

    (instance,) = load_plugins(tmp_path, env={"ECHO_ENABLED": "true", "GREETING": "hey"}).instances

    assert instance.spec.priority == 7
    assert instance.config.greeting == "${literal} hey"


def test_entry_point_plugin_is_found_by_name_and_imported_only_when_enabled(
    tmp_path: Path,
) -> None:
    write_instances(
        tmp_path,
        {"echo": {"priority": 1}, "off": {"plugin": "broken", "enabled": False}},
    )
    group = "claimx.plugins"
    installed = {
        "echo": InstalledPlugin(
            name="echo",
            value="claimx_test_plugins:EchoPlugin",
            distribution=None,
            version=None,
            entry_point=EntryPoint("echo", "claimx_test_plugins:EchoPlugin", group),
        ),
        "broken": InstalledPlugin(
            name="broken",
            value="claimx_no_such_module:Plugin",
            distribution=None,
            version=None,
            entry_point=EntryPoint("broken", "claimx_no_such_module:Plugin", group),
        ),
    }

    plugins = load_plugins(tmp_path, env={}, installed=installed)

    (instance,) = plugins.instances
    assert (instance.spec.plugin, instance.origin) == (
        "echo",
        "entry point 'echo' (claimx_test_plugins:EchoPlugin)",
    )
    assert [spec.name for spec in plugins.disabled] == ["off"]


async def test_the_operator_lines_of_loading_and_starting(
    tmp_path: Path, registry: CollectorRegistry, log_lines: list[str]
) -> None:
    plugins_dir = write_instances(
        tmp_path / "plugins",
        {"a": sample("NoConfigPlugin"), "group/b": sample("NoConfigPlugin", priority=5)},
    )

    host = PluginHost.load(plugins_dir, env={}, registry=registry)
    await host.start()
    await host.stop()

    assert [line for line in log_lines if line.startswith("INFO")][:4] == [
        f"INFO: Loaded plugin from directory | plugin_name=b plugin_dir={plugins_dir / 'group/b'}",
        f"INFO: Loaded plugin from directory | plugin_name=a plugin_dir={plugins_dir / 'a'}",
        f"INFO: Loaded plugins from directory | plugins_dir={plugins_dir} plugins_loaded=2",
        "INFO: Plugin orchestrator initialized | registered_plugins=2",
    ]
