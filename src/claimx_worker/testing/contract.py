"""The plugin contract suite: tests a plugin runs against itself by subclassing one class.

::

    from claimx_worker.testing import PluginContract

    class TestMyPluginContract(PluginContract):
        config = {"plugin": "my_plugin", "config": {"threshold": 3}}
        # or: config_path = Path(__file__).parent / "config.yaml"

The subclass collects these tests: the config validates; every ``@hookimpl`` method is a hook of
the contract and takes only its arguments (and no hook-named method lacks the marker);
``on_load`` and ``on_unload`` succeed; and for each of the ten event types and an unknown one, at
each stage, the hooks neither raise nor return anything but actions (that the action executor
would accept), do no I/O (network, DNS, subprocesses and file writes are refused while a hook
runs) and stay within the time budget (a call over it is tried once more before failing).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from claimx_worker.config.problems import ConfigError
from claimx_worker.hookspecs import HOOK_NAMES, PROJECT_NAME, ClaimXHookSpecs
from claimx_worker.model import EventType
from claimx_worker.plugins.loading import PluginSet
from claimx_worker.plugins.runner import DEFAULT_BUDGET_MS, StageResult
from claimx_worker.testing.factories import UNKNOWN_EVENT_TYPE, make_enriched_event, make_event
from claimx_worker.testing.harness import (
    HookError,
    HookProblem,
    ProblemKind,
    StageHarness,
    load_instances,
)
from claimx_worker.testing.hook_observer import STAGE_HOOKS
from claimx_worker.testing.io_guard import BlockedIOError, IOAttempt
from claimx_worker.testing.staging import ConfigSource

CONTRACT_EVENT_TYPES: tuple[str, ...] = (*(t.value for t in EventType), UNKNOWN_EVENT_TYPE)
"""The event types every stage is run with."""

_IMPL_MARK = f"{PROJECT_NAME}_impl"


class PluginContract:
    """Subclass as ``Test...`` and set ``config`` (an instance mapping) or ``config_path``.

    Needs the kit's pytest plugin (``pytest_plugins = ["claimx_worker.testing"]``): the event
    tests share one harness per class, the ``contract_harness`` fixture (like the worker, one
    set of instances sees every event; each test checks only its own calls).

    Optional: ``instance_name`` (the instance of a plugins directory, or the name of a mapping
    without one), ``env`` (for ``${VAR}``; default ``os.environ``), ``plugin_class`` (a class
    that is not installed under the entry point the config names), ``budget_ms`` (the worker's
    ``plugin_timeout_ms``; an instance's ``timeout_ms`` overrides it).
    """

    config: ClassVar[Mapping[str, Any] | None] = None
    config_path: ClassVar[str | Path | None] = None
    instance_name: ClassVar[str | None] = None
    env: ClassVar[Mapping[str, str] | None] = None
    plugin_class: ClassVar[type | None] = None
    budget_ms: ClassVar[float] = DEFAULT_BUDGET_MS

    # ------------------------------------------------------------------ set-up

    @classmethod
    def contract_config(cls) -> ConfigSource:
        """The config under test: ``config`` or ``config_path`` (exactly one must be set)."""
        if (cls.config is None) == (cls.config_path is None):
            pytest.fail(f"{cls.__name__}: set exactly one of config and config_path", pytrace=False)
        return cls.config if cls.config is not None else Path(str(cls.config_path))

    @classmethod
    def open_harness(cls, *, strict: bool, block_io: bool) -> StageHarness:
        """A started harness for the config under test; a config or ``on_load`` error fails."""
        try:
            return StageHarness.from_config(
                cls.contract_config(),
                name=cls.instance_name,
                env=cls.env,
                plugin_class=cls.plugin_class,
                budget_ms=cls.budget_ms,
                strict=strict,
                block_io=block_io,
            )
        except ConfigError as error:
            pytest.fail(f"the plugin does not load:\n{error}", pytrace=False)

    # ------------------------------------------------------------------ static checks

    @classmethod
    def load_contract_instances(cls) -> PluginSet:
        """The instances of the config under test, validated (no ``on_load``); an invalid config
        fails the test with the host's report."""
        try:
            return load_instances(
                cls.contract_config(),
                name=cls.instance_name,
                env=cls.env,
                plugin_class=cls.plugin_class,
            )
        except ConfigError as error:
            pytest.fail(f"the config does not validate:\n{error}", pytrace=False)

    def test_config_validates(self) -> None:
        """The config loads and validates (no ``on_load`` yet) into at least one instance."""
        plugins = self.load_contract_instances()
        if not plugins.instances:
            pytest.fail("the config enables no instance (enabled: false?)", pytrace=False)

    def test_hooks_match_the_contract(self) -> None:
        """Marked methods are hooks with the hook's arguments; no hook-named method is unmarked;
        at least one stage hook is implemented."""
        plugins = self.load_contract_instances()
        found = [
            problem
            for cls in {type(instance.plugin) for instance in plugins.instances}
            for problem in hook_problems(cls)
        ]
        if found:
            pytest.fail("\n".join(found), pytrace=False)

    def test_load_and_unload(self) -> None:
        """``on_load`` and ``on_unload`` complete without raising."""
        harness = self.open_harness(strict=True, block_io=False)
        try:
            harness.close()
        except HookError as error:
            pytest.fail(str(error), pytrace=False)

    # ------------------------------------------------------------------ every event, every stage

    @pytest.mark.parametrize("event_type", CONTRACT_EVENT_TYPES)
    def test_event_received(self, contract_harness: StageHarness, event_type: str) -> None:
        """``on_event_received`` returns a Filter or None, cleanly, for every event type."""
        event = make_event(event_type)
        check_stage(
            contract_harness,
            "on_event_received",
            event_type,
            lambda: contract_harness.event_received(event),
        )

    @pytest.mark.parametrize("event_type", CONTRACT_EVENT_TYPES)
    def test_enrichment_complete(self, contract_harness: StageHarness, event_type: str) -> None:
        """``on_enrichment_complete`` returns deliverable actions, cleanly, for every type."""
        event, rows = make_enriched_event(event_type)
        check_stage(
            contract_harness,
            "on_enrichment_complete",
            event_type,
            lambda: contract_harness.enrichment_complete(event, rows),
        )

    @pytest.mark.parametrize("event_type", CONTRACT_EVENT_TYPES)
    def test_event_failed(self, contract_harness: StageHarness, event_type: str) -> None:
        """``on_event_failed`` returns deliverable actions (no Filter), cleanly, for every type."""
        event = make_event(event_type)
        check_stage(
            contract_harness,
            "on_event_failed",
            event_type,
            lambda: contract_harness.event_failed(event),
        )


def check_stage(
    harness: StageHarness, hook: str, event_type: str, run: Callable[[], StageResult]
) -> StageResult:
    """Run a stage; fail on any problem or refused I/O. A stage whose only problems are time
    budget overruns is run once more, and fails only if it overruns again."""
    result, problems, attempts = _attempt(harness, run)
    if problems and all(p.kind is ProblemKind.TIMEOUT for p in problems) and not attempts:
        result, problems, attempts = _attempt(harness, run)
    lines = [f"- {attempt}" for attempt in attempts]
    lines += [f"- {p}" for p in problems if not isinstance(p.exception, BlockedIOError)]
    if lines:
        header = f"plugin contract broken by {hook} for a {event_type} event:"
        pytest.fail("\n".join([header, *lines]), pytrace=False)
    return result


def _attempt(
    harness: StageHarness, run: Callable[[], StageResult]
) -> tuple[StageResult, list[HookProblem], list[IOAttempt]]:
    problems_before, attempts_before = len(harness.problems), len(harness.io_attempts)
    result = run()
    return (
        result,
        list(harness.problems[problems_before:]),
        list(harness.io_attempts[attempts_before:]),
    )


def hook_problems(cls: type) -> list[str]:
    """What is wrong with the hook methods of plugin class ``cls`` (empty when nothing)."""
    problems: list[str] = []
    implemented: set[str] = set()
    for name, member in inspect.getmembers(cls, callable):
        marked = getattr(member, _IMPL_MARK, None) is not None
        where = f"{cls.__qualname__}.{name}"
        if marked and name not in HOOK_NAMES:
            problems.append(f"{where} is marked @hookimpl but is not a hook{_suggest(name)}")
        elif marked:
            implemented.add(name)
            problems.extend(_argument_problems(where, name, member))
        elif name in HOOK_NAMES:
            problems.append(f"{where} is not marked @hookimpl: the host never calls it")
        elif name.startswith("on_") and _suggest(name, cutoff=0.85):
            problems.append(f"{where} is not a hook{_suggest(name, cutoff=0.85)}")
    if not problems and not implemented & set(STAGE_HOOKS.values()):
        stages = ", ".join(STAGE_HOOKS.values())
        problems.append(f"{cls.__qualname__} implements no stage hook ({stages})")
    return problems


def _argument_problems(where: str, hook: str, method: Any) -> list[str]:
    takes = list(inspect.signature(getattr(ClaimXHookSpecs, hook)).parameters)[1:]
    parameters = list(inspect.signature(method).parameters.values())[1:]
    return [
        f"{where} takes '{parameter.name}', which {hook} does not pass (it passes: "
        f"{', '.join(takes)})"
        for parameter in parameters
        if parameter.name not in takes
    ]


def _suggest(name: str, cutoff: float = 0.6) -> str:
    close = difflib.get_close_matches(name, HOOK_NAMES, n=1, cutoff=cutoff)
    return f"; did you mean '{close[0]}'?" if close else ""
