"""Reloading the plugin host: kept instances untouched, changed ones unloaded and loaded again,
new ones loaded, removed ones unloaded once the events running on them are done; a failing
``on_load`` keeps the running configuration."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from plugin_host_support import journal, sample, task_event, task_rows, write_instances
from prometheus_client import CollectorRegistry

from claimx_worker.model.context import HandlerMetadata
from claimx_worker.plugins.host import PluginHost
from claimx_worker.plugins.loading import load_plugins

pytestmark = pytest.mark.usefixtures("plugin_modules")


def _reload_kwargs() -> dict[str, float]:
    return {"budget_ms": 50.0, "lifecycle_budget_seconds": 5.0, "drain_seconds": 5.0}


async def _started(plugins_dir: Path, registry: CollectorRegistry) -> PluginHost:
    host = PluginHost.load(plugins_dir, env={}, registry=registry)
    await host.start()
    return host


async def test_kept_changed_added_and_removed_instances(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    plugins_dir = write_instances(
        tmp_path,
        {
            "kept": sample("EchoPlugin", priority=1),
            "changed": sample("EchoPlugin", priority=2),
            "removed": sample("EchoPlugin", priority=3),
        },
    )
    host = await _started(plugins_dir, registry)
    kept = host.instances[0]
    (plugins_dir / "changed" / "config.yaml").write_text(
        json.dumps(sample("EchoPlugin", priority=2, config={"greeting": "hello"}))
    )
    shutil.rmtree(plugins_dir / "removed")
    write_instances(plugins_dir, {"added": sample("EchoPlugin", priority=4)})

    reloaded = await host.reload(load_plugins(plugins_dir, env={}), **_reload_kwargs())

    assert reloaded.problem is None
    assert reloaded.changes == {"kept": 1, "added": 1, "changed": 1, "removed": 1}
    assert journal()[3:] == ["load changed", "load added", "unload removed", "unload changed"]
    assert [i.name for i in host.instances] == ["kept", "changed", "added"]
    assert host.instances[0] is kept
    result = await host.run_enrichment_complete(task_event(), task_rows(), HandlerMetadata())
    messages = [a.action.message for a in result.actions]  # type: ignore[union-attr]
    assert messages == ["hi from kept", "hello from changed", "hi from added"]
    await host.stop()
    assert journal()[7:] == ["unload added", "unload changed", "unload kept"]


async def test_an_event_in_flight_finishes_on_the_configuration_it_started_with(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    plugins_dir = write_instances(tmp_path, {"echo": sample("EchoPlugin")})
    host = await _started(plugins_dir, registry)
    (plugins_dir / "echo" / "config.yaml").write_text(
        json.dumps(sample("EchoPlugin", config={"greeting": "new"}))
    )

    with host.session() as plugins:
        reload = asyncio.create_task(
            host.reload(load_plugins(plugins_dir, env={}), **_reload_kwargs())
        )
        await asyncio.sleep(0.05)
        assert journal() == ["load echo", "load echo"]  # the old one not unloaded yet
        result = await plugins.run_enrichment_complete(task_event(), task_rows(), HandlerMetadata())
        assert result.actions[0].action.message == "hi from echo"  # type: ignore[union-attr]
    assert (await reload).problem is None

    assert journal() == ["load echo", "load echo", "unload echo"]
    result = await host.run_enrichment_complete(task_event(), task_rows(), HandlerMetadata())
    assert result.actions[0].action.message == "new from echo"  # type: ignore[union-attr]


async def test_a_failing_on_load_keeps_the_running_configuration(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    plugins_dir = write_instances(tmp_path, {"echo": sample("EchoPlugin", priority=1)})
    host = await _started(plugins_dir, registry)
    running = host.instances
    write_instances(
        plugins_dir,
        {
            "fresh": sample("EchoPlugin", priority=2),
            "rules": sample("FailingLoadPlugin", priority=3, config={"greeting": "x"}),
        },
    )

    reloaded = await host.reload(load_plugins(plugins_dir, env={}), **_reload_kwargs())

    assert reloaded.problem is not None
    assert "on_load of instance 'rules' raised RuntimeError" in reloaded.problem
    assert host.instances == running
    assert journal() == ["load echo", "load fresh", "unload fresh"]


async def test_an_instance_whose_conditions_changed_is_loaded_again(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    def conditions(event_type: str) -> dict[str, object]:
        return {"all": [{"field": "event_type", "equals": event_type}]}

    plugins_dir = write_instances(
        tmp_path, {"gated": sample("EchoPlugin", conditions=conditions("PROJECT_CREATED"))}
    )
    host = await _started(plugins_dir, registry)
    (plugins_dir / "gated" / "config.yaml").write_text(
        json.dumps(sample("EchoPlugin", conditions=conditions("CUSTOM_TASK_COMPLETED")))
    )

    reloaded = await host.reload(load_plugins(plugins_dir, env={}), **_reload_kwargs())

    assert reloaded.changes == {"kept": 0, "added": 0, "changed": 1, "removed": 0}
    result = await host.run_enrichment_complete(task_event(), task_rows(), HandlerMetadata())
    messages = [a.action.message for a in result.actions]  # type: ignore[union-attr]
    assert messages == ["hi from gated"]
    await host.stop()
