"""The stage harness: plugins loaded as the worker loads them, run from sync and async tests."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from claimx_worker import (
    Action,
    ChangeRows,
    EventFailure,
    Filter,
    Log,
    Metric,
    Plugin,
    PluginContext,
    PublishToTopic,
    Webhook,
    hookimpl,
)
from claimx_worker.config.problems import display_path
from claimx_worker.errors import ErrorCategory
from claimx_worker.testing import (
    ConfigError,
    HookError,
    ProblemKind,
    StageHarness,
    load_instances,
    make_event,
    make_rows,
)


@attrs.frozen
class EchoConfig:
    topic: str
    url: str = "https://hooks.example.com/echo"


class Echo(Plugin[EchoConfig]):
    """Publishes the task template id and calls a webhook; drops events of type DROP_ME."""

    config_class = EchoConfig

    def __init__(self) -> None:
        self.loaded: tuple[str, EchoConfig] | None = None
        self.unloaded = False

    @hookimpl
    def on_load(self, config: EchoConfig, instance_name: str) -> None:
        self.loaded = (instance_name, config)

    @hookimpl
    def on_unload(self) -> None:
        self.unloaded = True

    @hookimpl
    def on_event_received(self, context: PluginContext[EchoConfig]) -> Filter | None:
        return Filter(reason="unwanted") if context.event.event_type == "DROP_ME" else None

    @hookimpl
    def on_enrichment_complete(self, context: PluginContext[EchoConfig]) -> list[Action]:
        task = context.first_task
        value = {"task_id": None if task is None else task.task_id, "via": context.metadata.handler}
        return [
            PublishToTopic(topic=context.config.topic, value=value),
            Webhook(url=context.config.url, body=value),
        ]

    @hookimpl
    def on_event_failed(self, error: EventFailure) -> Log:
        return Log(message=f"failed: {error.category} {error.message}")


class Misbehaving(Plugin[None]):
    """Does at enrichment whatever the event's ``metadata["do"]`` says."""

    @hookimpl
    def on_enrichment_complete(self, context: PluginContext[None]) -> Any:
        match context.event.metadata.get("do"):
            case "raise":
                raise ValueError("boom")
            case "garbage":
                return {"not": "an action"}
            case "sleep":
                time.sleep(0.03)
                return None
            case "bad_url":
                return Webhook(url="hooks.example.com/no-scheme")
            case "labels":
                return Metric(name="seen", labels={context.event.metadata["label"]: "x"})
            case "write":
                with open(context.event.metadata["path"], "w") as stream:
                    stream.write("side effect")
            case "filter":
                return [Log(message="before"), Filter(reason="enough")]
            case "mutate":
                task = context.rows.columns("tasks")[0]
                task["status"] = "HACKED"  # type: ignore[index]  # read-only, and typed so
        return None


class Async(Plugin[None]):
    @hookimpl
    async def on_enrichment_complete(self, context: PluginContext[None]) -> Log:
        await asyncio.sleep(0)
        return Log(message=f"async {context.event.event_type}")


ECHO = {"plugin": "echo", "config": {"topic": "out"}}


def event(do: str = "", **metadata: Any) -> Any:
    return make_event("CUSTOM_TASK_COMPLETED", metadata={"do": do, **metadata})


def instance_dir(root: Path, name: str, text: str) -> Path:
    (root / name).mkdir(parents=True)
    (root / name / "config.yaml").write_text(text)
    return root / name


# ---------------------------------------------------------------------- loading


def test_a_mapping_loads_with_its_plugin_class_and_runs_every_stage() -> None:
    with StageHarness.from_config(ECHO, plugin_class=Echo) as harness:
        (instance,) = harness.instances
        plugin = instance.plugin
        assert isinstance(plugin, Echo)
        assert plugin.loaded == ("echo", EchoConfig(topic="out"))
        assert harness.actions(make_event("CUSTOM_TASK_COMPLETED")) == [
            PublishToTopic(topic="out", value={"task_id": 456, "via": "custom_task"}),
            Webhook(
                url="https://hooks.example.com/echo", body={"task_id": 456, "via": "custom_task"}
            ),
        ]
        assert harness.event_received(make_event("DROP_ME")).filter == Filter(reason="unwanted")
        assert not harness.event_received(make_event("PROJECT_CREATED")).filtered
        failed = harness.event_failed(
            make_event("PROJECT_CREATED"), EventFailure(category=ErrorCategory.AUTH, message="401")
        )
        assert [a.action for a in failed.actions] == [Log(message="failed: auth 401")]
    assert plugin.unloaded
    assert harness.problems == ()


def test_rows_and_metadata_can_be_given() -> None:
    with StageHarness.from_config(ECHO, plugin_class=Echo, name="mine") as harness:
        assert harness.instances[0].name == "mine"
        task_event = make_event("CUSTOM_TASK_ASSIGNED")
        result = harness.enrichment_complete(task_event, make_rows(task_event, task_id=789))
        assert result.actions[0].action.value == {"task_id": 789, "via": "custom_task"}
        assert [(a.instance, a.index) for a in result.actions] == [("mine", 0), ("mine", 1)]


def test_variables_are_expanded_from_env() -> None:
    config = {"plugin": "echo", "config": {"topic": "${TOPIC}", "url": "${URL:-http://x.test/}"}}
    with StageHarness.from_config(config, plugin_class=Echo, env={"TOPIC": "t1"}) as harness:
        assert harness.instances[0].config == EchoConfig(topic="t1", url="http://x.test/")
    with pytest.raises(ConfigError, match=r"config\.topic: .*TOPIC"):
        StageHarness.from_config(config, plugin_class=Echo, env={})


def test_problems_in_a_mapping_name_the_key_path() -> None:
    with pytest.raises(ConfigError) as caught:
        StageHarness.from_config({"plugin": "echo", "config": {"topc": "x"}}, plugin_class=Echo)
    assert str(caught.value).splitlines() == [
        "<config mapping>: config.topic: required key is missing",
        "<config mapping>: config.topc: unknown key 'topc', did you mean 'topic'?",
    ]


def test_problems_in_a_file_name_the_file_and_line(tmp_path: Path) -> None:
    directory = instance_dir(tmp_path, "echo", "plugin: echo\nconfig:\n  topic: out\n  urll: x\n")
    for config in (directory / "config.yaml", directory, tmp_path):
        with pytest.raises(ConfigError) as caught:
            StageHarness.from_config(config, plugin_class=Echo)
        where = display_path(directory / "config.yaml")
        assert (
            str(caught.value) == f"{where}:4: config.urll: unknown key 'urll', did you mean 'url'?"
        )


def test_a_plugins_directory_loads_every_instance_or_the_one_named(tmp_path: Path) -> None:
    instance_dir(tmp_path, "b_second", "plugin: echo\npriority: 20\nconfig: {topic: b}\n")
    instance_dir(tmp_path, "a_first", "plugin: echo\npriority: 10\nconfig: {topic: a}\n")
    instance_dir(tmp_path, "c_off", "plugin: echo\nenabled: false\nconfig: {topic: c}\n")
    with StageHarness.from_config(tmp_path, plugin_class=Echo) as harness:
        assert [i.name for i in harness.instances] == ["a_first", "b_second"]
        topics = [
            a.topic
            for a in harness.actions(make_event("PROJECT_CREATED"))
            if isinstance(a, PublishToTopic)
        ]
        assert topics == ["a", "b"]
    with StageHarness.from_config(tmp_path, plugin_class=Echo, name="b_second") as harness:
        assert [i.name for i in harness.instances] == ["b_second"]
    with pytest.raises(
        ValueError, match=r"no instance named 'zzz'.*\['a_first', 'b_second', 'c_off'\]"
    ):
        StageHarness.from_config(tmp_path, name="zzz")


def test_a_module_and_class_config_needs_no_plugin_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "harness_demo_plugins.py").write_text(
        "from claimx_worker import Log, Plugin, hookimpl\n"
        "class Hello(Plugin[None]):\n"
        "    @hookimpl\n"
        "    def on_enrichment_complete(self, context):\n"
        "        return Log(message='hello ' + context.instance_name)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "harness_demo_plugins", raising=False)
    config = {"name": "greeter", "module": "harness_demo_plugins", "class": "Hello"}
    with StageHarness.from_config(config) as harness:
        assert harness.actions(make_event("PROJECT_CREATED")) == [Log(message="hello greeter")]


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        StageHarness.from_config(tmp_path / "nope")


# ---------------------------------------------------------------------- problems


def test_strict_harness_raises_what_the_worker_would_only_log() -> None:
    with StageHarness.from_config({"plugin": "bad"}, plugin_class=Misbehaving) as harness:
        with pytest.raises(
            HookError, match="on_enrichment_complete of instance 'bad': raised ValueError: boom"
        ) as caught:
            harness.enrichment_complete(event("raise"))
        assert isinstance(caught.value.__cause__, ValueError)
        with pytest.raises(
            HookError, match=r"returned \{'not': 'an action'\} \(dict\); it may return an action"
        ):
            harness.enrichment_complete(event("garbage"))
        with pytest.raises(HookError, match=r"action 0 \(Webhook\): webhook URL must be http\(s\)"):
            harness.enrichment_complete(event("bad_url"))
        harness.enrichment_complete(
            make_event("PROJECT_CREATED", metadata={"do": "labels", "label": "a"})
        )
        with pytest.raises(HookError, match="label names"):
            harness.enrichment_complete(
                make_event("PROJECT_CREATED", metadata={"do": "labels", "label": "b"})
            )
        kinds = [p.kind for p in harness.problems]
    assert kinds == [
        ProblemKind.EXCEPTION,
        ProblemKind.INVALID_RETURN,
        ProblemKind.UNDELIVERABLE,
        ProblemKind.UNDELIVERABLE,
    ]


def test_a_lenient_harness_returns_what_the_worker_would_run() -> None:
    with StageHarness.from_config(
        {"plugin": "bad"}, plugin_class=Misbehaving, strict=False
    ) as harness:
        result = harness.enrichment_complete(event("garbage"))
        assert result.actions == ()
        (problem,) = harness.problems
        assert (problem.instance, problem.hook, problem.kind) == (
            "bad",
            "on_enrichment_complete",
            ProblemKind.INVALID_RETURN,
        )


def test_a_hook_that_changes_the_rows_it_was_given_is_a_problem() -> None:
    """The worker would write the changed rows: a plugin changes rows with ChangeRows."""
    with StageHarness.from_config(
        {"plugin": "bad"}, plugin_class=Misbehaving, strict=False
    ) as harness:
        harness.enrichment_complete(event("mutate"))
        (problem,) = harness.problems
    assert (problem.instance, problem.kind) == ("bad", ProblemKind.CHANGED_ROWS)
    assert problem.detail == (
        "changed the rows it was given (tasks); they are read-only: return ChangeRows instead"
    )
    with (
        StageHarness.from_config({"plugin": "bad"}, plugin_class=Misbehaving) as strict,
        pytest.raises(HookError, match="changed the rows it was given"),
    ):
        strict.enrichment_complete(event("mutate"))


def test_a_slow_hook_is_recorded_but_not_raised() -> None:
    with StageHarness.from_config(
        {"plugin": "bad"}, plugin_class=Misbehaving, budget_ms=5
    ) as harness:
        harness.enrichment_complete(event("sleep"))
        (problem,) = harness.problems
    assert problem.kind is ProblemKind.TIMEOUT
    assert problem.detail.endswith("over its 5 ms budget")


def test_the_harness_observes_the_hooks_without_changing_the_loaded_instances() -> None:
    plugins = load_instances({"plugin": "bad"}, plugin_class=Misbehaving)
    (instance,) = plugins.instances
    loaded = dict(instance.implementations)

    with StageHarness(plugins, strict=False) as harness:
        harness.enrichment_complete(event("raise"))
        assert [p.detail for p in harness.problems] == ["raised ValueError: boom"]

    assert instance.implementations == loaded
    hook = loaded["on_enrichment_complete"]
    assert hook.function == instance.plugin.on_enrichment_complete  # type: ignore[attr-defined]


def test_a_filter_stops_the_stage_and_comes_last_in_actions() -> None:
    with StageHarness.from_config({"plugin": "bad"}, plugin_class=Misbehaving) as harness:
        assert harness.actions(event("filter")) == [Log(message="before"), Filter(reason="enough")]


def test_on_load_failure_is_a_config_error_chained_to_the_plugin_s_exception() -> None:
    class FailsToLoad(Plugin[None]):
        @hookimpl
        def on_load(self) -> None:
            raise RuntimeError("no license")

        @hookimpl
        def on_event_received(self) -> None:
            return None

    with pytest.raises(
        ConfigError, match="on_load of instance 'x' raised RuntimeError: no license"
    ) as caught:
        StageHarness.from_config({"plugin": "x"}, plugin_class=FailsToLoad)
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_on_unload_failure_raises_at_close() -> None:
    class FailsToUnload(Plugin[None]):
        @hookimpl
        def on_unload(self) -> None:
            raise RuntimeError("stuck")

    harness = StageHarness.from_config({"plugin": "x"}, plugin_class=FailsToUnload)
    with pytest.raises(HookError, match="on_unload of instance 'x': raised RuntimeError: stuck"):
        harness.close()
    harness.close()  # closing twice is harmless


def test_block_io_refuses_a_file_write_inside_a_hook(tmp_path: Path) -> None:
    target = tmp_path / "side-effect.txt"
    with StageHarness.from_config(
        {"plugin": "bad"}, plugin_class=Misbehaving, block_io=True, strict=False
    ) as harness:
        harness.enrichment_complete(event("write", path=str(target)))
        (attempt,) = harness.io_attempts
        assert str(attempt) == (
            f"on_enrichment_complete of instance 'bad' attempted a file write {str(target)!r}"
        )
        assert [p.kind for p in harness.problems] == [ProblemKind.EXCEPTION]
        (tmp_path / "outside.txt").write_text("fine")  # outside hooks, the test may write
    assert not target.exists()


def test_a_closed_harness_refuses_to_run() -> None:
    harness = StageHarness.from_config(ECHO, plugin_class=Echo)
    harness.close()
    with pytest.raises(RuntimeError, match="closed"):
        harness.event_received(make_event("PROJECT_CREATED"))


# ---------------------------------------------------------------------- async


def test_async_hooks_run_from_a_sync_test() -> None:
    with StageHarness.from_config({"plugin": "a"}, plugin_class=Async) as harness:
        assert harness.actions(make_event("PROJECT_CREATED")) == [
            Log(message="async PROJECT_CREATED")
        ]


async def test_async_tests_await_the_a_methods_and_may_call_the_sync_ones() -> None:
    with StageHarness.from_config({"plugin": "a"}, plugin_class=Async) as harness:
        created = make_event("PROJECT_CREATED")
        assert await harness.aactions(created) == [Log(message="async PROJECT_CREATED")]
        assert not (await harness.aevent_received(created)).filtered
        assert (await harness.aevent_failed(created)).actions == ()
        assert harness.actions(created) == [Log(message="async PROJECT_CREATED")]


# ---------------------------------------------------------------------- the fixture


@pytest.fixture
def opened_plugins() -> Iterator[list[Echo]]:
    """Set up before ``stage_harness``, so its teardown runs after the harnesses are closed."""
    plugins: list[Echo] = []
    yield plugins
    assert [plugin.unloaded for plugin in plugins] == [True, True]


def test_the_stage_harness_fixture_closes_what_it_opened(
    opened_plugins: list[Echo], stage_harness: Callable[..., StageHarness]
) -> None:
    for topic in ("one", "two"):
        harness = stage_harness({"plugin": "echo", "config": {"topic": topic}}, plugin_class=Echo)
        plugin = harness.instances[0].plugin
        assert isinstance(plugin, Echo)
        opened_plugins.append(plugin)
        assert not plugin.unloaded
    assert json.dumps([p.loaded[1].topic for p in opened_plugins if p.loaded]) == '["one", "two"]'


def test_plugin_class_needs_one_entry_point_to_stand_for(tmp_path: Path) -> None:
    instance_dir(tmp_path, "one", "plugin: first_local\nconfig: {topic: a}\n")
    instance_dir(tmp_path, "two", "plugin: second_local\nconfig: {topic: b}\n")
    with pytest.raises(ValueError, match=r"entry points named: \['first_local', 'second_local'\]"):
        StageHarness.from_config(tmp_path, plugin_class=Echo)
    with StageHarness.from_config(tmp_path, plugin_class=Echo, name="two") as harness:
        assert harness.instances[0].origin == "entry point 'second_local' (" + (
            f"{Echo.__module__}:{Echo.__qualname__})"
        )


# ---------------------------------------------------------------------- rows before the write


class Masker(Plugin[EchoConfig]):
    """Masks the project's email, tags tasks; keeps project 999's rows out of the tables."""

    config_class = EchoConfig

    @hookimpl
    def on_enrichment_complete(self, context: PluginContext[EchoConfig]) -> list[Action]:
        if context.event.project_id == "999":
            return [Filter(reason="not ours")]
        return [
            ChangeRows(rows="projects", columns={"primary_email": "***"}),
            ChangeRows(rows="tasks", columns={"sla_band": "gold"}, where={"status": "COMPLETED"}),
        ]


def test_written_rows_show_what_changed_rows_the_tables_get() -> None:
    with StageHarness.from_config(ECHO, plugin_class=Masker) as harness:
        event = make_event("CUSTOM_TASK_COMPLETED")
        rows = harness.written_rows(event)
        assert rows is not None
        assert [project["primary_email"] for project in rows["projects"]] == ["***"]
        assert [task["sla_band"] for task in rows["tasks"]] == ["gold"]
        assert harness.written_rows(make_event("PROJECT_CREATED", project_id="999")) is None
