"""The stage harness: plugin instances loaded as the worker loads them, run stage by stage.

::

    with StageHarness.from_config({"plugin": "task_trigger", "config": {...}}) as harness:
        actions = harness.actions(make_event("CUSTOM_TASK_COMPLETED"))

Loading is the worker's own (:func:`~claimx_worker.plugins.loading.load_plugins`: config
validation with file, line and key path, ``${VAR}`` expansion, hook checks) and ``on_load`` runs
at once; no Kafka, no HTTP. The stages run on the worker's stage runner, with its ordering,
filters, time budgets and isolation, on a private event loop thread, so the methods work from
plain sync tests and (blocking briefly) from async ones; ``await harness.aenrichment_complete(...)``
and the other ``a*`` methods do not block an async test's loop.

What the runner would only log and count, the harness also records in :attr:`problems`: a hook
that raised, ran past its budget or returned something else than actions, and actions the action
executor would refuse (:mod:`~claimx_worker.testing.deliverability`). With ``strict=True`` (the
default) every problem but a timeout raises :class:`HookError` in the test.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import enum
import functools
import inspect
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Mapping
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, Self, TypeVar

import attrs
from attrs import define, field, frozen
from prometheus_client import CollectorRegistry
from ruamel.yaml import YAML

from claimx_worker.config.problems import ConfigError, ConfigProblem, display_path
from claimx_worker.errors import ClaimXWorkerError, ErrorCategory
from claimx_worker.model import (
    Action,
    ClaimXEvent,
    EntityRows,
    EventFailure,
    HandlerMetadata,
    Stage,
)
from claimx_worker.plugins.discovery import ENTRY_POINT_GROUP, InstalledPlugin, installed_plugins
from claimx_worker.plugins.host import PluginHost
from claimx_worker.plugins.instances import CONFIG_FILE, scan_instances
from claimx_worker.plugins.loading import PluginInstance, PluginSet, load_plugins
from claimx_worker.plugins.runner import DEFAULT_BUDGET_MS, StageResult
from claimx_worker.testing.deliverability import DeliveryCheck
from claimx_worker.testing.factories import handler_metadata, sample_enrichment
from claimx_worker.testing.io_guard import IOAttempt, IOGuard

T = TypeVar("T")

STAGE_HOOKS = {stage: f"on_{stage.value}" for stage in Stage}
"""The hook called at each stage."""
MAPPING_FILE = "<config mapping>"
"""How problems in a config given as a mapping name their file (lines are not meaningful)."""
DEFAULT_FAILURE = EventFailure(category=ErrorCategory.PERMANENT, message="simulated failure")

ConfigSource = Mapping[str, Any] | str | Path


class ProblemKind(enum.StrEnum):
    """What went wrong in a hook call (the first three are the runner's error kinds)."""

    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    INVALID_RETURN = "invalid_return"
    UNDELIVERABLE = "undeliverable"


@frozen
class HookProblem:
    """One problem of one hook call of one instance."""

    instance: str
    hook: str
    kind: ProblemKind
    detail: str
    exception: BaseException | None = field(default=None, eq=False, repr=False)

    def __str__(self) -> str:
        return f"{self.hook} of instance '{self.instance}': {self.detail}"


class HookError(ClaimXWorkerError, AssertionError):
    """A hook raised, returned something else than actions, or returned an undeliverable one."""

    def __init__(self, problems: tuple[HookProblem, ...]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


def load_instances(
    config: ConfigSource,
    *,
    name: str | None = None,
    env: Mapping[str, str] | None = None,
    plugin_class: type | None = None,
) -> PluginSet:
    """Load and validate instances as the worker does, without calling ``on_load``.

    ``config``: an instance mapping (a ``config.yaml``'s content), a ``config.yaml`` path, an
    instance directory, or a plugins directory. ``name``: the instance name of a mapping without
    one (default: its ``plugin``), or the one instance of a plugins directory to load.
    ``env`` (default ``os.environ``) fills ``${VAR}``. ``plugin_class`` is the class behind the
    entry point the config names (of several, the one that is not installed), for a class that
    is not installed. Raises
    :class:`~claimx_worker.config.problems.ConfigError` naming the problems.
    """
    environ = dict(os.environ if env is None else env)
    with tempfile.TemporaryDirectory(prefix="claimx-harness-") as temp:
        plugins_dir, origins = _stage_config(config, name, Path(temp), environ)
        installed = (
            None if plugin_class is None else _with_class(plugin_class, plugins_dir, environ)
        )
        try:
            return load_plugins(plugins_dir, env=environ, installed=installed)
        except ConfigError as error:
            raise ConfigError([_relocate(p, origins) for p in error.problems]) from None


class StageHarness:
    """Plugin instances, started, whose stages a test runs one call at a time.

    Close it (``with`` block, :meth:`close`, or the ``stage_harness`` fixture) to run
    ``on_unload``. ``budget_ms`` is the default time budget per hook call (the worker's default;
    an instance's ``timeout_ms`` overrides it). ``block_io`` refuses network, subprocess and
    file-write calls made inside stage hooks and records them in :attr:`io_attempts`.
    """

    def __init__(
        self,
        plugins: PluginSet,
        *,
        budget_ms: float = DEFAULT_BUDGET_MS,
        strict: bool = True,
        block_io: bool = False,
    ) -> None:
        self._plugins = plugins
        self._strict = strict
        self._budgets = {i.name: (i.spec.timeout_ms or budget_ms) / 1000 for i in plugins.instances}
        self._guard = IOGuard() if block_io else None
        self._observer = _Observer(self._guard)
        self._registry = CollectorRegistry()
        self._host = PluginHost(
            self._observer.observed(plugins), registry=self._registry, budget_ms=budget_ms
        )
        self._delivery = DeliveryCheck()
        self._problems: list[HookProblem] = []
        self._loop = _LoopThread()
        self._closed = False
        try:
            self._loop.run(self._host.start())
        except ConfigError as error:
            self._loop.close()
            raise error from self._observer.first_exception("on_load")
        if self._guard is not None:
            self._guard.install()

    @classmethod
    def from_config(
        cls,
        config: ConfigSource,
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        plugin_class: type | None = None,
        budget_ms: float = DEFAULT_BUDGET_MS,
        strict: bool = True,
        block_io: bool = False,
    ) -> StageHarness:
        """Load (see :func:`load_instances`) and start the instances; raises
        :class:`~claimx_worker.config.problems.ConfigError` for invalid config or a failing
        ``on_load`` (chained to the plugin's exception)."""
        plugins = load_instances(config, name=name, env=env, plugin_class=plugin_class)
        return cls(plugins, budget_ms=budget_ms, strict=strict, block_io=block_io)

    # ------------------------------------------------------------------ state

    @property
    def instances(self) -> tuple[PluginInstance, ...]:
        """The enabled instances in run order (``instance.plugin`` is the plugin object)."""
        return self._plugins.instances

    @property
    def published_topics(self) -> frozenset[str]:
        """The topics the instances' ``published_topics`` hooks named at start."""
        return self._host.published_topics

    @property
    def problems(self) -> tuple[HookProblem, ...]:
        """Every problem recorded so far, in call order."""
        return tuple(self._problems)

    @property
    def io_attempts(self) -> tuple[IOAttempt, ...]:
        """I/O refused inside hooks (only with ``block_io``)."""
        return () if self._guard is None else tuple(self._guard.attempts)

    @property
    def registry(self) -> CollectorRegistry:
        """The registry of the host's plugin metrics (``claimx_plugin_*``)."""
        return self._registry

    # ------------------------------------------------------------------ stages (sync)

    def event_received(self, event: ClaimXEvent) -> StageResult:
        """Run ``on_event_received``; ``result.filtered`` means the event would be dropped."""
        return self._loop.run(self.aevent_received(event))

    def enrichment_complete(
        self,
        event: ClaimXEvent,
        rows: EntityRows | None = None,
        metadata: HandlerMetadata | None = None,
    ) -> StageResult:
        """Run ``on_enrichment_complete`` with ``rows`` (default: :func:`make_rows` of the
        event) and ``metadata`` (default: the event type's handler name)."""
        return self._loop.run(self.aenrichment_complete(event, rows, metadata))

    def event_failed(
        self,
        event: ClaimXEvent,
        failure: EventFailure = DEFAULT_FAILURE,
        rows: EntityRows | None = None,
    ) -> StageResult:
        """Run ``on_event_failed`` (rows default to none, as for a dead-lettered event)."""
        return self._loop.run(self.aevent_failed(event, failure, rows))

    def actions(self, event: ClaimXEvent, rows: EntityRows | None = None) -> list[Action]:
        """The actions of ``on_enrichment_complete`` in run order; a ``Filter`` that stopped
        the stage comes last."""
        return _actions(self.enrichment_complete(event, rows))

    # ------------------------------------------------------------------ stages (async)

    async def aevent_received(self, event: ClaimXEvent) -> StageResult:
        """:meth:`event_received` for async tests."""
        return await self._stage(Stage.EVENT_RECEIVED, event, self._host.run_event_received(event))

    async def aenrichment_complete(
        self,
        event: ClaimXEvent,
        rows: EntityRows | None = None,
        metadata: HandlerMetadata | None = None,
    ) -> StageResult:
        """:meth:`enrichment_complete` for async tests."""
        if rows is None:
            enrichment = await asyncio.to_thread(sample_enrichment, event)
            rows, metadata = enrichment.rows, metadata or enrichment.metadata
        run = self._host.run_enrichment_complete(event, rows, metadata or handler_metadata(event))
        return await self._stage(Stage.ENRICHMENT_COMPLETE, event, run)

    async def aevent_failed(
        self,
        event: ClaimXEvent,
        failure: EventFailure = DEFAULT_FAILURE,
        rows: EntityRows | None = None,
    ) -> StageResult:
        """:meth:`event_failed` for async tests."""
        run = self._host.run_event_failed(event, failure, rows=rows or EntityRows())
        return await self._stage(Stage.EVENT_FAILED, event, run)

    async def aactions(self, event: ClaimXEvent, rows: EntityRows | None = None) -> list[Action]:
        """:meth:`actions` for async tests."""
        return _actions(await self.aenrichment_complete(event, rows))

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Run ``on_unload`` (reverse order) and stop the loop; raises :class:`HookError` for an
        ``on_unload`` that raised (with ``strict``)."""
        if self._closed:
            return
        self._closed = True
        if self._guard is not None:
            self._guard.uninstall()
        self._observer.reset()
        try:
            self._loop.run(self._host.stop())
        finally:
            self._loop.close()
        failed = tuple(
            HookProblem(
                instance, hook, ProblemKind.EXCEPTION, _raised(call.exception), call.exception
            )
            for (instance, hook), call in self._observer.calls.items()
            if call.exception is not None
        )
        self._problems.extend(failed)
        if failed and self._strict:
            raise HookError(failed) from failed[0].exception

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    async def _stage(
        self, stage: Stage, event: ClaimXEvent, run: Coroutine[Any, Any, StageResult]
    ) -> StageResult:
        before = self._error_counts()
        self._observer.reset()
        result = await self._loop.arun(run)
        found = self._problems_of(stage, event, result, before)
        self._problems.extend(found)
        if self._strict:
            raised = tuple(p for p in found if p.kind is not ProblemKind.TIMEOUT)
            if raised:
                raise HookError(raised) from raised[0].exception
        return result

    def _problems_of(
        self,
        stage: Stage,
        event: ClaimXEvent,
        result: StageResult,
        before: Counter[tuple[str, str, str]],
    ) -> list[HookProblem]:
        hook = STAGE_HOOKS[stage]
        found: list[HookProblem] = []
        for (instance, hook_name, kind), count in (self._error_counts() - before).items():
            if hook_name != hook or count <= 0:
                continue
            call = self._observer.calls.get((instance, hook), _Call())
            detail = self._detail(ProblemKind(kind), stage, instance, call)
            found.append(HookProblem(instance, hook, ProblemKind(kind), detail, call.exception))
        for plugin_action in result.actions:
            problem = self._delivery.problem(
                event, plugin_action.instance, plugin_action.index, plugin_action.action
            )
            if problem is not None:
                detail = f"action {plugin_action.index} ({_kind(plugin_action.action)}): {problem}"
                found.append(
                    HookProblem(plugin_action.instance, hook, ProblemKind.UNDELIVERABLE, detail)
                )
        return found

    def _detail(self, kind: ProblemKind, stage: Stage, instance: str, call: _Call) -> str:
        if kind is ProblemKind.EXCEPTION:
            return _raised(call.exception)
        if kind is ProblemKind.TIMEOUT:
            budget = self._budgets[instance] * 1000
            return f"took {call.elapsed * 1000:.1f} ms, over its {budget:g} ms budget"
        allowed = (
            "a Filter or None"
            if stage is Stage.EVENT_RECEIVED
            else "an action, a list of actions, or None"
            + (" (no Filter)" if stage is Stage.EVENT_FAILED else "")
        )
        return f"returned {_shown(call.returned)}; it may return {allowed}"

    def _error_counts(self) -> Counter[tuple[str, str, str]]:
        counts: Counter[tuple[str, str, str]] = Counter()
        for family in self._registry.collect():
            if family.name != "claimx_plugin_errors":
                continue
            for sample in family.samples:
                labels = sample.labels
                counts[(labels["instance"], labels["hook"], labels["kind"])] += int(sample.value)
        return counts


# ---------------------------------------------------------------------- hook observation


@define
class _Call:
    """What one hook call did."""

    elapsed: float = 0.0
    returned: Any = None
    exception: BaseException | None = None


class _Observer:
    """Wraps the hook functions the host calls to record each call's result, exception and
    time, and to mark stage hook calls for the I/O guard."""

    def __init__(self, guard: IOGuard | None) -> None:
        self._guard = guard
        self.calls: dict[tuple[str, str], _Call] = {}

    def reset(self) -> None:
        self.calls = {}

    def first_exception(self, hook: str) -> BaseException | None:
        return next(
            (c.exception for (_, h), c in self.calls.items() if h == hook and c.exception), None
        )

    def observed(self, plugins: PluginSet) -> PluginSet:
        """``plugins`` with every hook function wrapped; ``plugins`` itself is left as loaded."""
        return attrs.evolve(
            plugins,
            instances=tuple(
                attrs.evolve(
                    instance,
                    implementations={
                        hook: attrs.evolve(
                            implementation,
                            function=self._wrap(implementation.function, instance.name, hook),
                        )
                        for hook, implementation in instance.implementations.items()
                    },
                )
                for instance in plugins.instances
            ),
        )

    def _wrap(self, function: Any, instance: str, hook: str) -> Any:
        guard = self._guard if hook in STAGE_HOOKS.values() else None

        def record(call: _Call, started: float) -> None:
            call.elapsed = time.perf_counter() - started
            self.calls[(instance, hook)] = call

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def observed_async(*args: Any) -> Any:
                call, started = _Call(), time.perf_counter()
                try:
                    with _watching(guard, instance, hook):
                        call.returned = await function(*args)
                except BaseException as exc:
                    call.exception = exc
                    raise
                finally:
                    record(call, started)
                return call.returned

            return observed_async

        @functools.wraps(function)
        def observed(*args: Any) -> Any:
            call, started = _Call(), time.perf_counter()
            try:
                with _watching(guard, instance, hook):
                    call.returned = function(*args)
            except BaseException as exc:
                call.exception = exc
                raise
            finally:
                record(call, started)
            return call.returned

        return observed


def _watching(
    guard: IOGuard | None, instance: str, hook: str
) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext() if guard is None else guard.watching(instance, hook)


# ---------------------------------------------------------------------- the private loop


class _LoopThread:
    """An event loop on its own thread; coroutines are submitted to it from any thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="claimx-stage-harness", daemon=True
        )
        self._thread.start()

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        if self._loop.is_closed():
            coroutine.close()
            raise RuntimeError("the StageHarness is closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for its result."""
        return self._submit(coroutine).result()

    async def arun(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop; the caller's loop waits without blocking."""
        return await asyncio.wrap_future(self._submit(coroutine))

    def close(self) -> None:
        """Stop the loop and join its thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


# ---------------------------------------------------------------------- config staging


def _stage_config(
    config: ConfigSource, name: str | None, temp: Path, env: Mapping[str, str]
) -> tuple[Path, dict[str, str]]:
    """A plugins directory holding ``config``, and the file names to show in problems."""
    if isinstance(config, Mapping):
        directory = temp / (name or str(config.get("plugin") or config.get("name") or "plugin"))
        directory.mkdir()
        body = dict(config)
        if name is not None and "name" not in body:
            body["name"] = name
        with (directory / CONFIG_FILE).open("w", encoding="utf-8") as stream:
            YAML(typ="safe", pure=True).dump(body, stream)
        return temp, {display_path(directory / CONFIG_FILE): MAPPING_FILE}
    path = Path(config)
    if path.is_file():
        return _copy_instance(path, temp, name)
    if (path / CONFIG_FILE).is_file():
        return _copy_instance(path / CONFIG_FILE, temp, name)
    if not path.is_dir():
        raise FileNotFoundError(f"no config.yaml, instance directory or plugins directory: {path}")
    if name is None:
        return path, {}
    specs = {spec.name: spec for spec in scan_instances(path, env=env).specs}
    if name not in specs:
        raise ValueError(f"no instance named {name!r} in {path} (instances: {sorted(specs)})")
    return _copy_instance(specs[name].directory / CONFIG_FILE, temp, None)


def _copy_instance(file: Path, temp: Path, name: str | None) -> tuple[Path, dict[str, str]]:
    directory = temp / (name or file.resolve().parent.name)
    directory.mkdir()
    (directory / CONFIG_FILE).write_bytes(file.read_bytes())
    return temp, {display_path(directory / CONFIG_FILE): display_path(file)}


def _relocate(problem: ConfigProblem, origins: Mapping[str, str]) -> ConfigProblem:
    """A problem in a staged copy, pointed at the file it came from."""
    origin = origins.get(problem.file)
    if origin is None:
        return problem
    line = None if origin == MAPPING_FILE else problem.line
    return attrs.evolve(problem, file=origin, line=line)


class _ClassEntryPoint(EntryPoint):
    """An entry point whose target is a given class (one that is not installed)."""

    def __init__(self, name: str, target: type) -> None:
        super().__init__(name, f"{target.__module__}:{target.__qualname__}", ENTRY_POINT_GROUP)
        vars(self)["target"] = target

    def load(self) -> Any:
        """The class itself; nothing is imported."""
        return vars(self)["target"]


def _with_class(
    plugin_class: type, plugins_dir: Path, env: Mapping[str, str]
) -> dict[str, InstalledPlugin]:
    """The installed plugins, with ``plugin_class`` behind the entry point the config names:
    the only one, or else the only one that is not installed."""
    installed = dict(installed_plugins())
    names = {spec.plugin for spec in scan_instances(plugins_dir, env=env).specs if spec.enabled}
    named = sorted(name for name in names if name is not None)
    candidates = named if len(named) == 1 else [n for n in named if n not in installed]
    if len(candidates) != 1:
        raise ValueError(
            "plugin_class needs a config naming one plugin entry point, or one that is not "
            f"installed (entry points named: {named})"
        )
    entry = _ClassEntryPoint(candidates[0], plugin_class)
    installed[entry.name] = InstalledPlugin(
        name=entry.name, value=entry.value, distribution=None, version=None, entry_point=entry
    )
    return installed


# ---------------------------------------------------------------------- helpers


def _actions(result: StageResult) -> list[Action]:
    actions: list[Action] = [plugin_action.action for plugin_action in result.actions]
    if result.filter is not None:
        actions.append(result.filter)
    return actions


def _raised(exception: BaseException | None) -> str:
    if exception is None:
        return "raised"
    return f"raised {type(exception).__name__}: {exception}"


def _shown(value: object) -> str:
    text = repr(value)
    return f"{text[:200]}{'...' if len(text) > 200 else ''} ({type(value).__name__})"


def _kind(action: Action) -> str:
    return type(action).__name__
