"""Quarantine through the plugin host: an instance failing past the error rate is left out for
the cooldown (policy ``skip``: counted; ``hold``: the stage names it), probed, restored or
quarantined again; a sync hook that hangs is interrupted and its instance quarantined."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from plugin_host_support import sample, task_event, task_rows, write_instances
from prometheus_client import CollectorRegistry

from claimx_worker.model.context import HandlerMetadata
from claimx_worker.plugins.host import PluginHost
from claimx_worker.plugins.runner import StageResult
from claimx_worker.plugins.settings import PluginSettings, QuarantineSettings

pytestmark = pytest.mark.usefixtures("plugin_modules")

FAST = PluginSettings(
    quarantine=QuarantineSettings(
        error_rate=0.5, min_calls=4, window_seconds=60, cooldown_seconds=0.2
    ),
    hung_hook_seconds=0.3,
)


async def _host(
    tmp_path: Path, registry: CollectorRegistry, policy: str = "skip", cls: str = "FlakyPlugin"
) -> PluginHost:
    plugins_dir = write_instances(
        tmp_path,
        {
            "flaky": sample(cls, priority=1, quarantine_policy=policy, config=None),
            "echo": sample("EchoPlugin", priority=2),
        },
    )
    for path in plugins_dir.glob("*/config.yaml"):  # no 'config' key at all for FlakyPlugin
        path.write_text(path.read_text().replace(', "config": null', ""))
    host = PluginHost.load(plugins_dir, env={}, registry=registry, settings=FAST)
    await host.start()
    return host


async def _run(host: PluginHost, kind: str) -> StageResult:
    """``on_enrichment_complete`` for an event that ``FlakyPlugin`` fails (``bad``) or not."""
    return await host.run_enrichment_complete(
        task_event(event_id=f"{kind}-1"), task_rows(), HandlerMetadata()
    )


def _quarantined(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("claimx_plugin_quarantined", {"instance": "flaky"})


async def test_skip_quarantines_at_the_error_rate_skips_probes_and_restores(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    host = await _host(tmp_path, registry)
    for _ in range(4):
        await _run(host, "bad")
    assert _quarantined(registry) == 1

    skipped = await _run(host, "ok")
    assert [a.instance for a in skipped.actions] == ["echo"]
    skips = {"instance": "flaky"}
    assert registry.get_sample_value("claimx_plugin_quarantine_skips_total", skips) == 1

    await asyncio.sleep(0.25)  # the cooldown
    probe = await _run(host, "ok")
    assert [a.instance for a in probe.actions] == ["flaky", "echo"]
    assert _quarantined(registry) == 0


async def test_a_failed_probe_quarantines_again(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    host = await _host(tmp_path, registry)
    for _ in range(4):
        await _run(host, "bad")
    await asyncio.sleep(0.25)

    await _run(host, "bad")  # the probe fails

    assert _quarantined(registry) == 1
    assert [a.instance for a in (await _run(host, "ok")).actions] == ["echo"]


async def test_below_min_calls_or_the_error_rate_nothing_is_quarantined(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    host = await _host(tmp_path, registry)
    for project in ("bad", "ok", "ok", "ok", "bad", "ok", "ok", "ok", "bad"):
        await _run(host, project)

    assert _quarantined(registry) == 0


async def test_hold_stops_the_stage_naming_the_instance(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    host = await _host(tmp_path, registry, policy="hold")
    for _ in range(4):
        await _run(host, "bad")

    held = await _run(host, "ok")
    with host.session() as plugins:
        assert plugins.held_by() == "flaky"

    assert held.held_by == "flaky"
    assert held.actions == ()
    await asyncio.sleep(0.25)
    with host.session() as plugins:
        assert plugins.held_by() is None  # the next event may probe
    assert (await _run(host, "ok")).held_by is None


async def test_a_sync_hook_that_hangs_is_interrupted_and_its_instance_quarantined(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    plugins_dir = write_instances(
        tmp_path,
        {
            "hangs": sample(
                "MisbehavingPlugin",
                priority=1,
                config={"hooks": ["on_enrichment_complete"], "sleep_seconds": 60},
            ),
            "echo": sample("EchoPlugin", priority=2),
        },
    )
    host = PluginHost.load(plugins_dir, env={}, registry=registry, settings=FAST)
    await host.start()
    try:
        start = time.monotonic()
        result = await _run(host, "any")
        took = time.monotonic() - start

        assert took < 5, took
        assert [a.instance for a in result.actions] == ["echo"]
        labels = {"instance": "hangs", "hook": "on_enrichment_complete", "kind": "timeout"}
        assert registry.get_sample_value("claimx_plugin_errors_total", labels) == 1
        quarantined = {"instance": "hangs"}
        assert registry.get_sample_value("claimx_plugin_quarantined", quarantined) == 1
        start = time.monotonic()
        assert [a.instance for a in (await _run(host, "any")).actions] == ["echo"]
        assert time.monotonic() - start < 1  # skipped, not called again
    finally:
        await host.stop()
