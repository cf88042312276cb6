"""A plugin's failure stays its own: hooks that raise ``BaseException`` (``SystemExit``,
``KeyboardInterrupt``, their own ``CancelledError``) are contained, counted and logged in every
hook, sync and async, while a real cancellation of the caller still propagates; ``on_load``,
``published_topics`` and ``on_unload`` run within the lifecycle budget."""

from __future__ import annotations

import asyncio
from pathlib import Path
from time import perf_counter
from typing import Any

import pytest
from plugin_host_support import (
    journal,
    sample,
    start_failure,
    task_event,
    task_rows,
    write_instances,
)
from prometheus_client import CollectorRegistry

from claimx_worker import ErrorCategory, EventFailure, HandlerMetadata, Log
from claimx_worker.plugins.host import PluginHost
from claimx_worker.plugins.runner import PluginAction, StageResult

pytestmark = pytest.mark.usefixtures("plugin_modules")

RAISED = {
    "cancelled": "CancelledError: raised by the plugin itself",
    "exit": "SystemExit: 3",
    "interrupt": "KeyboardInterrupt",
}
"""How each exception the fixture plugin raises is reported."""
SYNC_AND_ASYNC = ("MisbehavingPlugin", "AsyncMisbehavingPlugin")
STAGE_HOOKS = ("on_event_received", "on_enrichment_complete", "on_event_failed")
LIFECYCLE_HOOKS = ("on_load", "published_topics", "on_unload")
START_HOOKS = ("on_load", "published_topics")
HANGS = 3600.0


def misbehaving(cls: str, hooks: tuple[str, ...], **keys: Any) -> dict[str, Any]:
    """Instance keys of a fixture plugin that misbehaves in ``hooks``; ``config`` keys
    (``raises``, ``sleep_seconds``) and instance keys (``priority``, ...) both go in ``keys``."""
    config = {k: keys.pop(k) for k in ("raises", "sleep_seconds") if k in keys}
    return sample(cls, config={"hooks": list(hooks), **config}, **keys)


async def run_stage(host: PluginHost, hook: str) -> StageResult:
    """Run the stage whose hook is ``hook`` for ``evt-1``."""
    event = task_event()
    if hook == "on_event_received":
        return await host.run_event_received(event)
    if hook == "on_enrichment_complete":
        return await host.run_enrichment_complete(event, task_rows(), HandlerMetadata())
    failure = EventFailure(category=ErrorCategory.PERMANENT, message="gone")
    return await host.run_event_failed(event, failure)


def errors(registry: CollectorRegistry, instance: str, hook: str) -> dict[str, float | None]:
    """``claimx_plugin_errors_total`` of one instance's hook, by kind."""
    return {
        kind: registry.get_sample_value(
            "claimx_plugin_errors_total", {"instance": instance, "hook": hook, "kind": kind}
        )
        for kind in ("exception", "timeout", "invalid_return")
    }


def counts(**kinds: int) -> dict[str, float | None]:
    """What :func:`errors` returns for ``kinds`` counted and no other error."""
    return {"exception": 0, "timeout": 0, "invalid_return": 0, **kinds}


def between_echoes(name: str, keys: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Instance ``name`` at priority 2, between the ``EchoPlugin`` instances ``a`` and ``c``."""
    return {
        "a": sample("EchoPlugin", priority=1),
        name: {**keys, "priority": 2},
        "c": sample("EchoPlugin", priority=3),
    }


def problems(log_lines: list[str]) -> list[str]:
    return [line for line in log_lines if line.startswith(("ERROR", "WARNING"))]


# ------------------------------------------------------------------ BaseException


@pytest.mark.parametrize("hook", STAGE_HOOKS)
@pytest.mark.parametrize("raises", sorted(RAISED))
@pytest.mark.parametrize("cls", SYNC_AND_ASYNC)
async def test_a_base_exception_from_a_stage_hook_is_contained_counted_and_logged(
    cls: str,
    raises: str,
    hook: str,
    tmp_path: Path,
    registry: CollectorRegistry,
    log_lines: list[str],
) -> None:
    plugins_dir = write_instances(
        tmp_path,
        {
            "bad": misbehaving(cls, (hook,), raises=raises, priority=1),
            "next": misbehaving(cls, (), priority=2),
        },
    )
    host = PluginHost.load(plugins_dir, env={}, registry=registry)
    await host.start()

    result = await run_stage(host, hook)

    went_on = hook == "on_enrichment_complete"
    assert result.actions == (
        (PluginAction("next", 0, Log(message="next went through evt-1")),) if went_on else ()
    )
    assert errors(registry, "bad", hook) == counts(exception=1)
    calls = {"instance": "next", "hook": hook}
    assert registry.get_sample_value("claimx_plugin_calls_total", calls) == 1
    (line,) = problems(log_lines)
    assert line.startswith(
        f"ERROR: Plugin hook raised; ignored | instance=bad hook={hook} kind=exception "
        "event_id=evt-1"
    )
    assert line.endswith(f" error={RAISED[raises]}")
    await host.stop()


@pytest.mark.parametrize("hook", START_HOOKS)
@pytest.mark.parametrize("raises", sorted(RAISED))
@pytest.mark.parametrize("cls", SYNC_AND_ASYNC)
async def test_a_base_exception_from_on_load_or_published_topics_stops_start_up(
    cls: str, raises: str, hook: str, tmp_path: Path, registry: CollectorRegistry
) -> None:
    plugins_dir = write_instances(
        tmp_path, between_echoes("bad", misbehaving(cls, (hook,), raises=raises))
    )
    host = PluginHost.load(plugins_dir, env={}, registry=registry)

    assert await start_failure(host) == (
        f"{tmp_path}/bad/config.yaml:1: {hook} of instance 'bad' raised {RAISED[raises]}"
    )
    assert journal() == ["load a", "unload a"]
    assert errors(registry, "bad", hook) == counts(exception=1)


@pytest.mark.parametrize("raises", sorted(RAISED))
@pytest.mark.parametrize("cls", SYNC_AND_ASYNC)
async def test_a_base_exception_from_on_unload_is_logged_and_the_others_still_unload(
    cls: str, raises: str, tmp_path: Path, registry: CollectorRegistry, log_lines: list[str]
) -> None:
    plugins_dir = write_instances(
        tmp_path, between_echoes("bad", misbehaving(cls, ("on_unload",), raises=raises))
    )
    host = PluginHost.load(plugins_dir, env={}, registry=registry)
    await host.start()

    await host.stop()

    assert journal() == ["load a", "load c", "unload c", "unload a"]
    (line,) = problems(log_lines)
    assert line.startswith("ERROR: Plugin on_unload raised; the other instances still unload")
    assert f"instance=bad error={RAISED[raises]}" in line
    assert errors(registry, "bad", "on_unload") == counts(exception=1)


@pytest.mark.parametrize("hook", STAGE_HOOKS)
async def test_a_real_cancellation_of_a_stage_still_propagates(
    hook: str, tmp_path: Path, registry: CollectorRegistry, log_lines: list[str]
) -> None:
    plugins_dir = write_instances(
        tmp_path,
        {"hangs": misbehaving("AsyncMisbehavingPlugin", (hook,), sleep_seconds=HANGS)},
    )
    host = PluginHost.load(plugins_dir, env={}, registry=registry, budget_ms=HANGS * 1000)
    await host.start()
    stage = asyncio.create_task(run_stage(host, hook))
    await asyncio.sleep(0.05)  # the hook is waiting

    stage.cancel()

    with pytest.raises(asyncio.CancelledError):
        await stage
    assert errors(registry, "hangs", hook) == counts()
    assert problems(log_lines) == []
    await host.stop()


@pytest.mark.parametrize("hook", LIFECYCLE_HOOKS)
async def test_a_real_cancellation_of_start_or_stop_still_propagates(
    hook: str, tmp_path: Path, registry: CollectorRegistry, log_lines: list[str]
) -> None:
    plugins_dir = write_instances(
        tmp_path,
        {"hangs": misbehaving("AsyncMisbehavingPlugin", (hook,), sleep_seconds=HANGS)},
    )
    host = PluginHost.load(plugins_dir, env={}, registry=registry)
    if hook == "on_unload":
        await host.start()
    running = asyncio.create_task(host.stop() if hook == "on_unload" else host.start())
    await asyncio.sleep(0.05)  # the hook is waiting

    running.cancel()

    with pytest.raises(asyncio.CancelledError):
        await running
    assert errors(registry, "hangs", hook) == counts()
    assert problems(log_lines) == []


# ------------------------------------------------------------------ lifecycle budget


@pytest.mark.parametrize("hook", START_HOOKS)
async def test_an_async_on_load_or_published_topics_past_the_lifecycle_budget_stops_start_up(
    hook: str, tmp_path: Path, registry: CollectorRegistry
) -> None:
    hangs = misbehaving("AsyncMisbehavingPlugin", (hook,), sleep_seconds=HANGS)
    plugins_dir = write_instances(tmp_path, between_echoes("slow", hangs))
    host = PluginHost.load(plugins_dir, env={}, registry=registry, lifecycle_budget_seconds=0.05)
    started = perf_counter()

    assert await start_failure(host) == (
        f"{tmp_path}/slow/config.yaml:1: {hook} of instance 'slow' did not finish within its "
        "0.05 s budget (processing.plugin_lifecycle_timeout_seconds); cancelled"
    )
    assert perf_counter() - started < 5
    assert journal() == ["load a", "unload a"]
    assert errors(registry, "slow", hook) == counts(timeout=1)


async def test_an_async_on_unload_past_the_lifecycle_budget_is_logged_and_shutdown_goes_on(
    tmp_path: Path, registry: CollectorRegistry, log_lines: list[str]
) -> None:
    hangs = misbehaving("AsyncMisbehavingPlugin", ("on_unload",), sleep_seconds=HANGS)
    plugins_dir = write_instances(tmp_path, between_echoes("slow", hangs))
    host = PluginHost.load(plugins_dir, env={}, registry=registry, lifecycle_budget_seconds=0.05)
    await host.start()
    started = perf_counter()

    await host.stop()

    assert perf_counter() - started < 5
    assert journal() == ["load a", "load c", "unload c", "unload a"]
    (line,) = problems(log_lines)
    assert line.startswith(
        "ERROR: Plugin on_unload did not finish within its time budget; cancelled, the other "
        "instances still unload | instance=slow hook=on_unload kind=timeout elapsed_ms="
    )
    assert line.endswith(" budget_ms=50.0")
    assert errors(registry, "slow", "on_unload") == counts(timeout=1)


@pytest.mark.parametrize("hook", LIFECYCLE_HOOKS)
async def test_a_sync_lifecycle_hook_past_the_budget_is_reported_and_start_up_goes_on(
    hook: str, tmp_path: Path, registry: CollectorRegistry, log_lines: list[str]
) -> None:
    plugins_dir = write_instances(
        tmp_path, {"slow": misbehaving("MisbehavingPlugin", (hook,), sleep_seconds=0.03)}
    )
    host = PluginHost.load(plugins_dir, env={}, registry=registry, lifecycle_budget_seconds=0.01)

    await host.start()
    await host.stop()

    (line,) = problems(log_lines)
    assert line.startswith(
        f"WARNING: Plugin hook exceeded its time budget | instance=slow hook={hook} "
        "kind=timeout elapsed_ms="
    )
    assert line.endswith(" budget_ms=10.0")
    assert errors(registry, "slow", hook) == counts(timeout=1)
    duration = {"instance": "slow", "hook": hook}
    assert registry.get_sample_value("claimx_plugin_duration_seconds_count", duration) == 1


async def test_lifecycle_hooks_within_the_budget_are_not_reported(
    tmp_path: Path, registry: CollectorRegistry, log_lines: list[str]
) -> None:
    plugins_dir = write_instances(
        tmp_path,
        {"quick": misbehaving("AsyncMisbehavingPlugin", LIFECYCLE_HOOKS, sleep_seconds=0.01)},
    )
    host = PluginHost.load(plugins_dir, env={}, registry=registry, lifecycle_budget_seconds=5)

    await host.start()
    await host.stop()

    assert problems(log_lines) == []
    for hook in LIFECYCLE_HOOKS:
        assert errors(registry, "quick", hook) == counts()
