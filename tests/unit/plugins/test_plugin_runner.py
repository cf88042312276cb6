"""The stage runner: order, filters, isolation (exceptions, budgets, garbage) and the counters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from plugin_host_support import sample, task_event, task_rows, write_instances
from prometheus_client import CollectorRegistry

from claimx_worker import (
    ErrorCategory,
    EventFailure,
    Filter,
    HandlerMetadata,
    Log,
    Metric,
    PublishToTopic,
)
from claimx_worker.plugins.host import PluginHost
from claimx_worker.plugins.runner import PluginAction, StageResult

pytestmark = pytest.mark.usefixtures("plugin_modules")

METADATA = HandlerMetadata(handler="task", api_calls=2, duration_ms=12.5)


MakeHost = Callable[..., Awaitable[PluginHost]]


@pytest.fixture
async def make_host(tmp_path: Path, registry: CollectorRegistry) -> AsyncIterator[MakeHost]:
    """A factory: instance keys by directory -> a loaded, started host (stopped at teardown)."""
    hosts: list[PluginHost] = []

    async def make(instances: Mapping[str, Mapping[str, Any]], **options: Any) -> PluginHost:
        plugins_dir = write_instances(tmp_path / f"plugins{len(hosts)}", instances)
        host = PluginHost.load(plugins_dir, env={}, registry=registry, **options)
        await host.start()
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        await host.stop()


def counter(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_one_class_backs_two_instances_run_in_priority_order(make_host: MakeHost) -> None:
    host = await make_host(
        {
            "late": sample("EchoPlugin", priority=200, config={"greeting": "bye"}),
            "early": sample(
                "EchoPlugin", priority=10, config={"greeting": "hello", "on_completed": "claimx.a"}
            ),
        }
    )

    result = await host.run_enrichment_complete(task_event(), task_rows(), METADATA)

    assert result == StageResult(
        actions=(
            PluginAction("early", 0, Log(message="hello from early")),
            PluginAction("early", 1, PublishToTopic(topic="claimx.a", value="evt-1")),
            PluginAction("late", 0, Log(message="bye from late")),
        )
    )
    early, late = host.instances
    assert early.plugin is not late.plugin
    assert type(early.plugin) is type(late.plugin)


async def test_equal_priorities_run_by_name(make_host: MakeHost) -> None:
    host = await make_host(
        {
            "dir_1": sample("EchoPlugin", name="zulu"),
            "dir_2": sample("EchoPlugin", name="alpha"),
            "dir_3": sample("EchoPlugin", name="mike", priority=99),
        }
    )

    result = await host.run_enrichment_complete(task_event(), task_rows(), METADATA)

    assert [action.instance for action in result.actions] == ["mike", "alpha", "zulu"]


async def test_context_carries_event_rows_metadata_and_config(make_host: MakeHost) -> None:
    host = await make_host({"capture": sample("CaptureContext", config={"greeting": "yo"})})
    event, rows = task_event(), task_rows()

    await host.run_enrichment_complete(event, rows, METADATA)

    (context,) = host.instances[0].plugin.contexts  # type: ignore[attr-defined]
    assert (context.event, context.rows, context.metadata) == (event, rows, METADATA)
    assert context.stage == "enrichment_complete"
    assert (context.instance_name, context.config.greeting) == ("capture", "yo")
    assert context.first_task == rows.tasks[0]
    assert context.project == rows.projects[0]


async def test_a_raising_a_slow_and_a_garbage_plugin_do_not_stop_the_others(
    make_host: MakeHost, registry: CollectorRegistry, log_lines: list[str]
) -> None:
    host = await make_host(
        {
            "raising": sample("RaisingPlugin", priority=1),
            "slow_async": sample("SlowAsyncPlugin", priority=2, timeout_ms=20),
            "garbage": sample("GarbagePlugin", priority=3),
            "slow_sync": sample("SlowSyncPlugin", priority=4, timeout_ms=5),
            "echo": sample("EchoPlugin", priority=5),
        }
    )

    result = await host.run_enrichment_complete(task_event(), task_rows(), METADATA)

    assert result.actions == (
        PluginAction("slow_sync", 0, Log(message="slow but kept")),
        PluginAction("echo", 0, Log(message="hi from echo")),
    )
    hook = "on_enrichment_complete"
    errors = "claimx_plugin_errors_total"
    for instance in ("raising", "slow_async", "garbage", "slow_sync", "echo"):
        assert counter(registry, "claimx_plugin_calls_total", instance=instance, hook=hook) == 1
        count = "claimx_plugin_duration_seconds_count"
        assert counter(registry, count, instance=instance, hook=hook) == 1
    expected = {
        ("raising", "exception"): 1,
        ("slow_async", "timeout"): 1,
        ("garbage", "invalid_return"): 1,
        ("slow_sync", "timeout"): 1,
    }
    for instance in ("raising", "slow_async", "garbage", "slow_sync", "echo"):
        for kind in ("exception", "timeout", "invalid_return"):
            value = counter(registry, errors, instance=instance, hook=hook, kind=kind)
            assert value == expected.get((instance, kind), 0), (instance, kind)
    slow = counter(registry, "claimx_plugin_duration_seconds_sum", instance="slow_sync", hook=hook)
    assert slow is not None
    assert slow >= 0.03
    problems = [line for line in log_lines if line.startswith(("ERROR", "WARNING"))]
    assert [line.split(" | ")[0] for line in problems] == [
        "ERROR: Plugin hook raised; ignored",
        "WARNING: Plugin hook exceeded its time budget",
        "ERROR: Plugin hook returned an invalid value; ignored",
        "WARNING: Plugin hook exceeded its time budget",
    ]
    assert "instance=raising hook=on_enrichment_complete kind=exception" in problems[0]
    assert "event_id=evt-1" in problems[0]
    assert "error=ValueError: broken on evt-1" in problems[0]
    assert "instance=slow_async" in problems[1]
    assert "budget_ms=20.0" in problems[1]
    assert "instance=garbage" in problems[2]
    assert "returned=list" in problems[2]


async def test_the_default_budget_applies_without_timeout_ms(
    make_host: MakeHost, registry: CollectorRegistry
) -> None:
    host = await make_host({"slow": sample("SlowAsyncPlugin")}, budget_ms=10)

    result = await host.run_enrichment_complete(task_event(), task_rows(), METADATA)

    assert result == StageResult()
    labels = {"instance": "slow", "hook": "on_enrichment_complete", "kind": "timeout"}
    assert registry.get_sample_value("claimx_plugin_errors_total", labels) == 1


async def test_an_async_hook_that_blocks_past_its_budget_is_reported_and_kept(
    make_host: MakeHost, registry: CollectorRegistry
) -> None:
    host = await make_host({"blocking": sample("BlockingAsyncPlugin", timeout_ms=5)})

    result = await host.run_enrichment_complete(task_event(), task_rows(), METADATA)

    assert result.actions == (PluginAction("blocking", 0, Log(message="blocked but kept")),)
    labels = {"instance": "blocking", "hook": "on_enrichment_complete", "kind": "timeout"}
    assert registry.get_sample_value("claimx_plugin_errors_total", labels) == 1


async def test_async_hooks_and_hooks_without_arguments(make_host: MakeHost) -> None:
    host = await make_host(
        {"fast": sample("FastAsyncPlugin", priority=1), "count": sample("NoConfigPlugin")}
    )

    result = await host.run_enrichment_complete(task_event(), task_rows(), METADATA)

    assert [action.action for action in result.actions] == [
        Log(message="async fast"),
        Metric(name="claimx_test_events"),
    ]


async def test_a_hook_implemented_under_another_method_name_is_called(
    make_host: MakeHost,
) -> None:
    host = await make_host({"counter": sample("SpecnamePlugin")})

    result = await host.run_enrichment_complete(task_event(), task_rows(), METADATA)

    assert host.instances[0].hooks == ("on_enrichment_complete",)
    assert result.actions == (PluginAction("counter", 0, Log(message="counted evt-1")),)


async def test_filter_keeps_earlier_actions_and_skips_lower_priorities(make_host: MakeHost) -> None:
    host = await make_host(
        {
            "first": sample("EchoPlugin", priority=1),
            "filter": sample("FilterPlugin", priority=2),
            "never": sample("EchoPlugin", priority=3),
        }
    )

    result = await host.run_enrichment_complete(task_event(), task_rows(), METADATA)

    assert result == StageResult(
        actions=(
            PluginAction("first", 0, Log(message="hi from first")),
            PluginAction("filter", 0, Log(message="before filter")),
        ),
        filtered_by="filter",
        filter=Filter(reason="no write"),
    )
    assert result.filtered


async def test_a_shadow_instance_s_filter_is_recorded_and_filters_nothing(
    make_host: MakeHost,
) -> None:
    host = await make_host(
        {
            "filter": sample("FilterPlugin", priority=1, mode="shadow"),
            "after": sample("EchoPlugin", priority=2),
        }
    )

    result = await host.run_enrichment_complete(task_event(), task_rows(), METADATA)
    received = await host.run_event_received(task_event(project_id="blocked"))

    assert result == StageResult(
        actions=(
            PluginAction("filter", 0, Log(message="before filter")),
            PluginAction("filter", 1, Filter(reason="no write")),
            PluginAction("filter", 2, Log(message="after")),
            PluginAction("after", 0, Log(message="hi from after")),
        )
    )
    assert not result.filtered
    assert received == StageResult(
        actions=(PluginAction("filter", 0, Filter(reason="blocked project")),)
    )


async def test_event_received_may_drop_an_event(
    make_host: MakeHost, registry: CollectorRegistry
) -> None:
    host = await make_host(
        {
            "filter": sample("FilterPlugin", priority=1),
            "garbage": sample("ReceivedGarbagePlugin", priority=2),
        }
    )

    dropped = await host.run_event_received(task_event(project_id="blocked"))
    passed = await host.run_event_received(task_event(project_id="12345"))

    assert dropped == StageResult(filtered_by="filter", filter=Filter(reason="blocked project"))
    assert passed == StageResult()
    labels = {"instance": "garbage", "hook": "on_event_received", "kind": "invalid_return"}
    assert registry.get_sample_value("claimx_plugin_errors_total", labels) == 1
    calls = {"instance": "garbage", "hook": "on_event_received"}
    assert registry.get_sample_value("claimx_plugin_calls_total", calls) == 1  # not after a drop


async def test_event_failed_receives_the_error(make_host: MakeHost) -> None:
    host = await make_host({"watch": sample("FailureWatcher")})
    failure = EventFailure(category=ErrorCategory.PERMANENT, message="HTTP 404 for project")

    result = await host.run_event_failed(task_event(), failure)

    assert result.actions == (
        PluginAction("watch", 0, Log(message="evt-1 failed: permanent HTTP 404 for project")),
    )


async def test_a_filter_is_invalid_when_the_event_already_failed(
    make_host: MakeHost, registry: CollectorRegistry
) -> None:
    host = await make_host({"filter": sample("FilterOnFailure")})
    failure = EventFailure(category=ErrorCategory.TRANSIENT, message="retries exhausted")

    result = await host.run_event_failed(task_event(), failure)

    assert result == StageResult()
    labels = {"instance": "filter", "hook": "on_event_failed", "kind": "invalid_return"}
    assert registry.get_sample_value("claimx_plugin_errors_total", labels) == 1


async def test_no_instances_means_an_empty_result(registry: CollectorRegistry) -> None:
    host = PluginHost.load(None, env={}, registry=registry)
    await host.start()

    assert await host.run_enrichment_complete(task_event(), task_rows(), METADATA) == StageResult()
    assert await host.run_event_received(task_event()) == StageResult()


async def test_events_before_start_are_refused(tmp_path: Path, registry: CollectorRegistry) -> None:
    host = PluginHost.load(
        write_instances(tmp_path, {"echo": sample("EchoPlugin")}), env={}, registry=registry
    )

    with pytest.raises(RuntimeError, match="start"):
        await host.run_enrichment_complete(task_event(), task_rows(), METADATA)


async def test_instance_conditions_choose_the_events_an_instance_sees(
    make_host: MakeHost,
) -> None:
    host = await make_host(
        {
            "texas": sample(
                "EchoPlugin",
                config={"greeting": "tx"},
                conditions={
                    "all": [
                        {"field": "project_id", "in": [12345, 777]},
                        {"field": "task_id", "equals": "456"},
                    ]
                },
            ),
            "always": sample("EchoPlugin", config={"greeting": "all"}),
        }
    )

    matching = await host.run_enrichment_complete(task_event(), task_rows(), METADATA)
    other = await host.run_enrichment_complete(
        task_event(project_id="9"), task_rows(project_id="9"), METADATA
    )

    assert [action.instance for action in matching.actions] == ["always", "texas"]
    assert [action.instance for action in other.actions] == ["always"]


async def test_instance_conditions_are_checked_at_load(tmp_path: Path) -> None:
    from claimx_worker.plugins.loading import check_plugins

    plugins_dir = tmp_path / "plugins"
    (plugins_dir / "texas").mkdir(parents=True)
    (plugins_dir / "texas" / "config.yaml").write_text(
        "module: claimx_test_plugins\n"
        "class: EchoPlugin\n"
        "conditions:\n"
        "  any:\n"
        "    - field: project.state\n"
        "      equals: TX\n"
    )

    check = check_plugins(plugins_dir, env={})

    assert [(p.line, p.key) for p in check.problems] == [(5, "conditions.any[0].field")]
    assert "did you mean 'project.state_province'" in check.problems[0].message


# returned value (a name in claimx_test_plugins.RETURNS) -> per stage: the number of actions
# kept, "filtered" or "invalid"
ACCEPTED = {
    "none": (0, 0, 0),
    "empty_list": ("invalid", 0, 0),
    "empty_tuple": ("invalid", 0, 0),
    "log": ("invalid", 1, 1),
    "filter": ("filtered", "filtered", "invalid"),
    "log_list": ("invalid", 2, 2),
    "log_tuple": ("invalid", 2, 2),
    "filter_list": ("invalid", "filtered", "invalid"),
    "subclass_list": ("invalid", 1, 1),
    "half_garbage": ("invalid", "invalid", "invalid"),
    "garbage": ("invalid", "invalid", "invalid"),
}


@pytest.mark.parametrize("returns", list(ACCEPTED))
async def test_what_each_stage_accepts_from_a_hook(
    make_host: MakeHost, registry: CollectorRegistry, returns: str
) -> None:
    host = await make_host({"returns": sample("ReturnsPlugin", config={"returns": returns})})
    failure = EventFailure(category=ErrorCategory.PERMANENT, message="HTTP 404")
    results = (
        await host.run_event_received(task_event()),
        await host.run_enrichment_complete(task_event(), task_rows(), METADATA),
        await host.run_event_failed(task_event(), failure),
    )

    for stage, result, expected in zip(
        ("event_received", "enrichment_complete", "event_failed"),
        results,
        ACCEPTED[returns],
        strict=True,
    ):
        invalid = counter(
            registry,
            "claimx_plugin_errors_total",
            instance="returns",
            hook=f"on_{stage}",
            kind="invalid_return",
        )
        if expected == "invalid":
            assert (result, invalid) == (StageResult(), 1), stage
        elif expected == "filtered":
            assert (result.filtered_by, result.actions, invalid) == ("returns", (), 0), stage
        else:
            assert (len(result.actions), result.filtered, invalid) == (expected, False, 0), stage
            assert [a.index for a in result.actions] == list(range(expected))
