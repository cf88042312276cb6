"""The plugin host the worker wires in: load and validate, start, run the stages, stop.

::

    host = PluginHost.load(plugins_dir, env=os.environ, registry=registry)  # ConfigError
    await host.start()   # on_load + published_topics, priority order, each timed; ConfigError
    host.published_topics                                # the topics the instances publish to
    received = await host.run_event_received(event)      # received.filtered: drop the event
    result = await host.run_enrichment_complete(event, rows, metadata)
    failed = await host.run_event_failed(event, EventFailure(...))
    await host.stop()                           # on_unload, reverse order, isolated, timed

    with host.session() as plugins:   # one event: both stages on the same configuration
        received = await plugins.run_event_received(event)
    reloaded = await host.reload(check.plugins, budget_ms=..., drain_seconds=...)

A reload (:meth:`PluginHost.reload`) loads the new and changed instances first (``on_load``,
``published_topics``; a failure unloads them again and keeps the running configuration), then
swaps the configuration between events: events already running finish on the configuration they
started with (their :meth:`~PluginHost.session`), and once they are done (or ``drain_seconds``
passed) the removed and changed instances get ``on_unload``.

A lifecycle hook runs within ``lifecycle_budget_seconds`` and is isolated like a stage hook
(:mod:`claimx_worker.plugins.isolation`). At start, an instance whose ``on_load`` or
``published_topics`` raised (``BaseException`` included) or was cancelled at the budget stops
start-up; at stop, ``on_unload`` failing either way is logged and the others still unload. A
sync lifecycle hook past the budget is reported like a slow stage hook and kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable, Mapping
from pathlib import Path
from time import perf_counter
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs
from attrs import frozen
from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker.config.problems import ConfigError, display_path
from claimx_worker.http.connections import Connection
from claimx_worker.model.context import EventFailure, HandlerMetadata, Stage
from claimx_worker.model.event import ClaimXEvent
from claimx_worker.model.rows import EntityRows
from claimx_worker.observability.redaction import Redactor
from claimx_worker.plugins.discovery import InstalledPlugin
from claimx_worker.plugins.isolation import NOT_CALLED, HookCall, call_hook, describe
from claimx_worker.plugins.loading import PluginInstance, PluginSet, load_plugins
from claimx_worker.plugins.metrics import ErrorKind, PluginMetrics
from claimx_worker.plugins.quarantine import InstanceBreaker, QuarantineMetrics
from claimx_worker.plugins.reload import Change, plan_reload
from claimx_worker.plugins.runner import DEFAULT_BUDGET_MS, StageResult, StageRunner
from claimx_worker.plugins.settings import InstanceMode, PluginSettings, QuarantinePolicy
from claimx_worker.plugins.watchdog import HookWatch, HungHookWatchdog

if TYPE_CHECKING:
    from loguru import Logger

EMPTY_ROWS = EntityRows()
NO_METADATA = HandlerMetadata()
DEFAULT_LIFECYCLE_BUDGET_SECONDS = 10.0
"""Default time budget of one ``on_load``, ``published_topics`` or ``on_unload`` call."""
DEFAULT_SETTINGS = PluginSettings()
LIFECYCLE_BUDGET_SETTING = "processing.plugin_lifecycle_timeout_seconds"
"""The worker setting behind ``lifecycle_budget_seconds``, named when a hook runs out of it."""


class PluginGeneration:
    """One loaded configuration of the instances and its stage runner; as a context manager,
    counts the events running on it (see :meth:`PluginHost.session`)."""

    __slots__ = ("_holding", "_idle", "_in_flight", "_runner", "plugins", "shadow")

    def __init__(
        self, plugins: PluginSet, runner: StageRunner, holding: tuple[InstanceBreaker, ...]
    ) -> None:
        self.plugins = plugins
        self.shadow = frozenset(
            i.name for i in plugins.instances if i.spec.mode is InstanceMode.SHADOW
        )
        """The instances in shadow mode: their actions are recorded, not run."""
        self._runner = runner
        self._holding = holding
        self._in_flight = 0
        self._idle: asyncio.Event | None = None

    def held_by(self) -> str | None:
        """The quarantined instance with policy ``hold`` that the event must wait for, if any."""
        if self._holding:
            now = perf_counter()
            for breaker in self._holding:
                if breaker.held(now):
                    return breaker.instance
        return None

    def __enter__(self) -> PluginGeneration:
        self._in_flight += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._in_flight -= 1
        if not self._in_flight and self._idle is not None:
            self._idle.set()

    async def idle(self, deadline_seconds: float) -> bool:
        """Wait until no event runs on this configuration; False after ``deadline_seconds``."""
        if not self._in_flight:
            return True
        self._idle = asyncio.Event()
        try:
            async with asyncio.timeout(deadline_seconds):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    # The stage methods hand back the runner's coroutine rather than awaiting it in one of
    # their own: one coroutine less per stage call (awaited by the caller all the same).

    def run_event_received(self, event: ClaimXEvent) -> Coroutine[Any, Any, StageResult]:
        """``on_event_received`` before enrichment; ``result.filtered`` means drop the event."""
        return self._runner.run(Stage.EVENT_RECEIVED, event, EMPTY_ROWS, NO_METADATA)

    def run_enrichment_complete(
        self, event: ClaimXEvent, rows: EntityRows, metadata: HandlerMetadata
    ) -> Coroutine[Any, Any, StageResult]:
        """``on_enrichment_complete``: the actions, and whether to skip the entity write."""
        return self._runner.run(Stage.ENRICHMENT_COMPLETE, event, rows, metadata)

    def run_event_failed(
        self, event: ClaimXEvent, error: EventFailure, rows: EntityRows, metadata: HandlerMetadata
    ) -> Coroutine[Any, Any, StageResult]:
        """``on_event_failed`` for an event sent to the DLQ; returns the actions to run."""
        return self._runner.run(Stage.EVENT_FAILED, event, rows, metadata, error)


@frozen
class Reloaded:
    """What :meth:`PluginHost.reload` did: ``problem`` is why the running configuration was
    kept (``None``: the new one runs), ``changes`` counts kept, added, changed and removed
    instances."""

    problem: str | None
    changes: Mapping[str, int]


class PluginHost:
    """Configured plugin instances, their lifecycle and the stage runner."""

    def __init__(
        self,
        plugins: PluginSet,
        *,
        registry: CollectorRegistry,
        budget_ms: float = DEFAULT_BUDGET_MS,
        lifecycle_budget_seconds: float = DEFAULT_LIFECYCLE_BUDGET_SECONDS,
        settings: PluginSettings = DEFAULT_SETTINGS,
    ) -> None:
        self._lifecycle_budget = lifecycle_budget_seconds
        self._metrics = PluginMetrics(registry)
        self._breakers: dict[str, InstanceBreaker] = {}
        registry.register(QuarantineMetrics(self._breakers))
        self._watch = HookWatch()
        self._watchdog = HungHookWatchdog(self._watch)
        self._generation = self._generation_of(plugins, budget_ms, settings)
        self._redactor = Redactor(plugins.secrets)
        self._loaded: list[PluginInstance] = []
        self._topics: dict[str, frozenset[str]] = {}
        self._running = False
        self._lifecycle_lock = asyncio.Lock()

    @classmethod
    def load(
        cls,
        plugins_dir: Path | None,
        *,
        env: Mapping[str, str],
        registry: CollectorRegistry,
        budget_ms: float = DEFAULT_BUDGET_MS,
        lifecycle_budget_seconds: float = DEFAULT_LIFECYCLE_BUDGET_SECONDS,
        settings: PluginSettings = DEFAULT_SETTINGS,
        installed: Mapping[str, InstalledPlugin] | None = None,
        redactor: Redactor | None = None,
    ) -> PluginHost:
        """Load and validate every instance below ``plugins_dir`` (``None``: no plugins).

        ``budget_ms`` is the default time budget of one stage hook call (an instance's
        ``timeout_ms`` overrides it), ``lifecycle_budget_seconds`` the budget of one
        ``on_load``, ``published_topics`` or ``on_unload`` call. The configs' secrets go to
        ``redactor`` (the log sink's) before any plugin code is imported. Raises
        :class:`~claimx_worker.config.problems.ConfigError` with every problem, redacted.
        """
        plugins = load_plugins(plugins_dir, env=env, installed=installed, redactor=redactor)
        for instance in plugins.instances:
            logger.bind(
                plugin_name=instance.name, plugin_dir=display_path(instance.spec.directory)
            ).info("Loaded plugin from directory")
        if plugins_dir is not None and plugins_dir.is_dir():
            logger.bind(
                plugins_dir=display_path(plugins_dir), plugins_loaded=len(plugins.instances)
            ).info("Loaded plugins from directory")
        return cls(
            plugins,
            registry=registry,
            budget_ms=budget_ms,
            lifecycle_budget_seconds=lifecycle_budget_seconds,
            settings=settings,
        )

    @property
    def instances(self) -> tuple[PluginInstance, ...]:
        """The enabled instances in run order."""
        return self._generation.plugins.instances

    @property
    def secrets(self) -> frozenset[str]:
        """Secret strings found in the instances' configs (register them with the redactor)."""
        return self._generation.plugins.secrets

    @property
    def connections(self) -> Mapping[str, Connection]:
        """The named connections webhook actions may go through."""
        return self._generation.plugins.connections

    @property
    def published_topics(self) -> frozenset[str]:
        """The topics the instances' ``published_topics`` hooks named (known after start);
        instances in shadow mode publish nothing."""
        shadow = self._generation.shadow
        return frozenset[str]().union(
            *(topics for name, topics in self._topics.items() if name not in shadow)
        )

    @property
    def shadow_instances(self) -> frozenset[str]:
        """The running instances in shadow mode."""
        return self._generation.shadow

    def status(self) -> list[dict[str, object]]:
        """The running instances for ``/status``: name, plugin, mode, state (``loaded``,
        ``quarantined``, ``probing``), quarantine policy, stage hook calls and errors, skips.
        Safe to call from another thread (reads a snapshot)."""
        generation = self._generation
        stats = self._metrics.snapshot()
        listed: list[dict[str, object]] = []
        for instance in generation.plugins.instances:
            breaker = self._breakers.get(instance.name)
            own = [hook for (name, _), hook in stats if name == instance.name]
            listed.append(
                {
                    "name": instance.name,
                    "plugin": instance.origin,
                    "mode": instance.spec.mode.value,
                    "state": "loaded" if breaker is None else breaker.state.value,
                    "quarantine_policy": instance.spec.quarantine_policy.value,
                    "calls": sum(hook.calls for hook in own),
                    "errors": sum(sum(hook.errors.values()) for hook in own),
                    "skipped": 0 if breaker is None else breaker.skips,
                }
            )
        return listed

    def session(self) -> PluginGeneration:
        """The running configuration, to run one event's stages on (``with`` it: a reload
        unloads what it replaces only once the events running on it are done)."""
        self._check_running()
        return self._generation

    async def start(self) -> None:
        """Call ``on_load``, then ``published_topics``, of every instance in priority order.

        A hook that raised or was cancelled at its budget (or topics that are not a collection
        of names) stops start-up: the instances already loaded are unloaded, and a
        :class:`~claimx_worker.config.problems.ConfigError` names the failing instance and hook.
        """
        for instance in self._generation.plugins.instances:
            problem = await self._start_instance(instance, self._loaded)
            if problem is not None:
                await self.stop()
                raise ConfigError([instance.spec.problem(self._redactor.redact(problem))])
        self._running = True
        self._watchdog.start()
        logger.bind(registered_plugins=len(self._loaded)).info("Plugin orchestrator initialized")

    async def stop(self) -> None:
        """Call ``on_unload`` of every loaded instance in reverse order; failures are logged."""
        async with self._lifecycle_lock:
            self._running = False
            self._watchdog.stop()
            while self._loaded:
                await self._unload(self._loaded.pop())

    async def reload(
        self,
        plugins: PluginSet,
        *,
        budget_ms: float,
        lifecycle_budget_seconds: float,
        drain_seconds: float,
        settings: PluginSettings = DEFAULT_SETTINGS,
    ) -> Reloaded:
        """Run ``plugins`` (loaded and checked) instead of the running instances (see the module
        docstring); ``drain_seconds`` bounds the wait for the events running on the replaced
        configuration. Never raises because of a plugin."""
        async with self._lifecycle_lock:
            if not self._running:
                return Reloaded("the plugins are not running (starting or stopping)", {})
            plan = plan_reload(self._loaded, plugins.instances)
            self._lifecycle_budget = lifecycle_budget_seconds
            started: list[PluginInstance] = []
            topics = dict(self._topics)
            for instance, change in plan.load:
                problem = await self._start_instance(instance, started)
                if problem is not None:
                    for loaded in reversed(started):
                        await self._unload(loaded)
                    self._topics = topics
                    return Reloaded(self._redactor.redact(problem), plan.summary)
                _change_log(instance, change).info("Plugin instance loaded")
            replaced = self._generation
            for instance, change in plan.unload:
                if change is Change.REMOVED:
                    del self._breakers[instance.name]
            for instance, _ in plan.load:
                self._breakers.pop(instance.name, None)  # a changed instance starts afresh
            self._generation = self._generation_of(
                attrs.evolve(plugins, instances=plan.instances), budget_ms, settings
            )
            self._redactor.add(*plugins.secrets)
            self._loaded = list(plan.instances)
            if not await replaced.idle(drain_seconds):
                logger.bind(drain_seconds=drain_seconds).warning(
                    "Events still run on the replaced plugin configuration; unloading it anyway"
                )
            for instance, change in reversed(plan.unload):
                await self._unload(instance)
                if change is Change.REMOVED:
                    self._topics.pop(instance.name, None)
                _change_log(instance, change).info("Plugin instance unloaded")
            return Reloaded(None, plan.summary)

    async def run_event_received(self, event: ClaimXEvent) -> StageResult:
        """``on_event_received`` before enrichment; ``result.filtered`` means drop the event."""
        with self.session() as plugins:
            return await plugins.run_event_received(event)

    async def run_enrichment_complete(
        self, event: ClaimXEvent, rows: EntityRows, metadata: HandlerMetadata
    ) -> StageResult:
        """``on_enrichment_complete``: the actions, and whether to skip the entity write."""
        with self.session() as plugins:
            return await plugins.run_enrichment_complete(event, rows, metadata)

    async def run_event_failed(
        self,
        event: ClaimXEvent,
        error: EventFailure,
        *,
        rows: EntityRows = EMPTY_ROWS,
        metadata: HandlerMetadata = NO_METADATA,
    ) -> StageResult:
        """``on_event_failed`` for an event sent to the DLQ; returns the actions to run."""
        self._check_running()
        return await self._generation.run_event_failed(event, error, rows, metadata)

    def _check_running(self) -> None:
        if not self._running:
            raise RuntimeError("PluginHost.start() must complete before events are run")

    def _generation_of(
        self, plugins: PluginSet, budget_ms: float, settings: PluginSettings
    ) -> PluginGeneration:
        """A configuration of ``plugins``; kept instances keep their quarantine state."""
        for instance in plugins.instances:
            breaker = self._breakers.get(instance.name)
            if breaker is None:
                breaker = InstanceBreaker(
                    instance.name, instance.spec.quarantine_policy, settings.quarantine
                )
                self._breakers[instance.name] = breaker
            breaker.settings = settings.quarantine
        runner = StageRunner(
            plugins,
            self._metrics,
            budget_ms=budget_ms,
            breakers=self._breakers,
            watch=self._watch,
            hung_hook_seconds=settings.hung_hook_seconds,
        )
        holding = tuple(
            self._breakers[i.name]
            for i in plugins.instances
            if i.spec.quarantine_policy is QuarantinePolicy.HOLD
        )
        return PluginGeneration(plugins, runner, holding)

    async def _start_instance(
        self, instance: PluginInstance, loaded: list[PluginInstance]
    ) -> str | None:
        """``on_load`` (then appended to ``loaded``) and ``published_topics`` of one instance,
        its topics recorded; why start-up must stop, or ``None``."""
        call = await self._lifecycle(
            instance, "on_load", config=instance.config, instance_name=instance.name
        )
        if not call.completed:
            return self._start_problem(instance, "on_load", call)
        loaded.append(instance)
        call = await self._lifecycle(instance, "published_topics", instance_name=instance.name)
        if not call.completed:
            return self._start_problem(instance, "published_topics", call)
        try:
            self._topics[instance.name] = frozenset(_topic_names(call.result))
        except TypeError as exc:
            return f"published_topics of instance '{instance.name}' raised {describe(exc)}"
        return None

    async def _unload(self, instance: PluginInstance) -> None:
        """``on_unload`` of one instance; a failure is logged, never raised."""
        call = await self._lifecycle(instance, "on_unload", instance_name=instance.name)
        if call.failure is ErrorKind.EXCEPTION:
            assert call.error is not None
            logger.bind(instance=instance.name, error=describe(call.error)).opt(
                exception=call.error
            ).error("Plugin on_unload raised; the other instances still unload")
        elif not call.completed:
            self._timeout_log(instance, "on_unload", call).error(
                "Plugin on_unload did not finish within its time budget; cancelled, the "
                "other instances still unload"
            )

    def _start_problem(self, instance: PluginInstance, hook: str, call: HookCall) -> str:
        """Why start-up stops: ``hook`` of ``instance`` raised, or was cancelled at the budget."""
        failed = f"{hook} of instance '{instance.name}'"
        if call.failure is ErrorKind.TIMEOUT:
            return (
                f"{failed} did not finish within its {self._lifecycle_budget:g} s budget "
                f"({LIFECYCLE_BUDGET_SETTING}); cancelled"
            )
        assert call.error is not None
        return f"{failed} raised {describe(call.error)}"

    async def _lifecycle(self, instance: PluginInstance, hook: str, **values: Any) -> HookCall:
        """Call ``hook`` of one instance within the lifecycle budget, counting it in the
        metrics and reporting a sync call past the budget (see the module docstring)."""
        implementation = instance.implementations.get(hook)
        if implementation is None:
            return NOT_CALLED
        stats = self._metrics.stats(instance.name, hook)
        arguments = [values[name] for name in implementation.argnames]
        call = await call_hook(implementation.function, arguments, self._lifecycle_budget)
        stats.observe(call.elapsed)
        if call.failure is not None:
            stats.errors[call.failure] += 1
            if call.completed:
                self._timeout_log(instance, hook, call).warning(
                    "Plugin hook exceeded its time budget"
                )
        return call

    def _timeout_log(self, instance: PluginInstance, hook: str, call: HookCall) -> Logger:
        """A logger bound to the fields of a lifecycle call past its budget."""
        return logger.bind(
            instance=instance.name,
            hook=hook,
            kind=ErrorKind.TIMEOUT.value,
            elapsed_ms=round(call.elapsed * 1000, 3),
            budget_ms=self._lifecycle_budget * 1000,
        )


def _change_log(instance: PluginInstance, change: Change) -> Logger:
    return logger.bind(instance=instance.name, reason=change.value)


def _topic_names(topics: object) -> set[str]:
    """``published_topics``'s result as a set of names; ``TypeError`` for anything else."""
    if topics is None:
        return set()
    if isinstance(topics, str | bytes) or not isinstance(topics, Iterable):
        raise TypeError(f"expected a collection of topic names, got {type(topics).__name__}")
    names = set(topics)
    if not all(isinstance(name, str) and name for name in names):
        raise TypeError(f"expected non-empty topic names, got {sorted(map(repr, names))}")
    return names
