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
import enum
import os
import tempfile
from collections import Counter
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, Self

import orjson
from attrs import field, frozen
from prometheus_client import CollectorRegistry

from claimx_worker.claimx import entity_rows_message
from claimx_worker.config.problems import ConfigError
from claimx_worker.errors import ClaimXWorkerError, ErrorCategory
from claimx_worker.model import (
    Action,
    ChangeRows,
    ClaimXEvent,
    EntityRows,
    EventFailure,
    HandlerMetadata,
    Stage,
)
from claimx_worker.plugins.host import PluginHost
from claimx_worker.plugins.loading import PluginInstance, PluginSet, load_plugins
from claimx_worker.plugins.runner import DEFAULT_BUDGET_MS, StageResult
from claimx_worker.plugins.settings import PluginSettings, QuarantineSettings
from claimx_worker.testing.deliverability import DeliveryCheck
from claimx_worker.testing.factories import handler_metadata, sample_enrichment
from claimx_worker.testing.hook_observer import STAGE_HOOKS, HookObserver, ObservedCall
from claimx_worker.testing.io_guard import IOAttempt, IOGuard
from claimx_worker.testing.loop_thread import LoopThread
from claimx_worker.testing.staging import ConfigSource, relocate, stage_config, with_class

_EVERY_CALL_REPORTED = PluginSettings(quarantine=QuarantineSettings(enabled=False))
"""A test sees every call: no instance is quarantined for its error rate."""
DEFAULT_FAILURE = EventFailure(category=ErrorCategory.PERMANENT, message="simulated failure")


class ProblemKind(enum.StrEnum):
    """What went wrong in a hook call (the first three are the runner's error kinds)."""

    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    INVALID_RETURN = "invalid_return"
    UNDELIVERABLE = "undeliverable"
    CHANGED_ROWS = "changed_rows"
    """The hook changed the (read-only) rows of its context: the worker would write them."""


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
        plugins_dir, origins = stage_config(config, name, Path(temp), environ)
        installed = None if plugin_class is None else with_class(plugin_class, plugins_dir, environ)
        try:
            return load_plugins(plugins_dir, env=environ, installed=installed)
        except ConfigError as error:
            raise ConfigError([relocate(p, origins) for p in error.problems]) from None


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
        self._observer = HookObserver(self._guard)
        self._registry = CollectorRegistry()
        self._host = PluginHost(
            self._observer.observed(plugins),
            registry=self._registry,
            budget_ms=budget_ms,
            settings=_EVERY_CALL_REPORTED,
        )
        self._delivery = DeliveryCheck()
        self._problems: list[HookProblem] = []
        self._loop = LoopThread()
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

    def written_rows(
        self, event: ClaimXEvent, rows: EntityRows | None = None
    ) -> dict[str, Any] | None:
        """The entity-rows message the worker would publish for ``event`` (the rows the table
        writer merges), after the instances' :class:`~claimx_worker.ChangeRows`; ``None`` when
        a ``Filter`` keeps the rows out. Rows default to :func:`make_rows` of the event."""
        if rows is None:
            rows = sample_enrichment(event).rows
        result = self.enrichment_complete(event, rows)
        if result.filtered:
            return None
        changes = [
            plugin_action.action
            for plugin_action in result.actions
            if isinstance(plugin_action.action, ChangeRows)
        ]
        message: dict[str, Any] = orjson.loads(entity_rows_message(event, rows, changes)[1])
        return message

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
            call = self._observer.calls.get((instance, hook), ObservedCall())
            detail = self._detail(ProblemKind(kind), stage, instance, call)
            found.append(HookProblem(instance, hook, ProblemKind(kind), detail, call.exception))
        for (instance, hook_name), call in self._observer.calls.items():
            if hook_name == hook and call.changed_rows:
                detail = (
                    f"changed the rows it was given ({', '.join(call.changed_rows)}); "
                    "they are read-only: return ChangeRows instead"
                )
                found.append(HookProblem(instance, hook, ProblemKind.CHANGED_ROWS, detail))
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

    def _detail(self, kind: ProblemKind, stage: Stage, instance: str, call: ObservedCall) -> str:
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
