"""The stage runner: calls one hook of every enabled instance, in order, in isolation.

It calls each instance's hook function itself, not through pluggy's hook caller: a hook caller
runs every implementation in one call, so it can neither isolate one instance from the others
nor time and count each instance's call. pluggy finds and checks the implementations at load
(:mod:`claimx_worker.plugins.hookimpls`), which refuses the ``@hookimpl`` options only a hook
caller would honour (``tryfirst``, ``trylast``, ``wrapper``, ``hookwrapper``): the order is the
instances' ``priority`` (lower first, ties by name).

For each stage the runner precomputes the ordered calls (instance, bound function, argument
names, sync or async, time budget, pre-bound stats), so an event costs one context object and
one function call per instance. Isolation rules (:mod:`claimx_worker.plugins.isolation`):

- An exception is logged with the instance name, counted (``kind=exception``) and ignored:
  ``BaseException`` too (``SystemExit``, ``KeyboardInterrupt``, a ``CancelledError`` the hook
  raised itself); only a real cancellation of the stage propagates. A sync call cannot be
  cancelled from outside, so whatever it raises is the hook's.
- An ``async def`` hook runs under ``asyncio.timeout(budget)``; past it the call is cancelled,
  logged and counted (``kind=timeout``) and its result is lost.
- A sync hook runs inline: a call past its budget is logged and counted (``kind=timeout``) but
  its result is kept (so is the result of an async hook that blocked past its budget without
  awaiting). One that hangs past its deadline is interrupted
  (:mod:`claimx_worker.plugins.watchdog`), counted as a timeout, and its instance quarantined.
- A return value that is not allowed at the stage is logged, counted (``kind=invalid_return``)
  and ignored as a whole.
- A :class:`~claimx_worker.Filter` stops the stage: lower-priority instances are not called.
  An instance in shadow mode filters nothing: its ``Filter`` is returned with its actions, to
  be recorded like them.
- An instance with ``conditions`` is called at ``enrichment_complete`` only for the events that
  match them (compiled once, here).
- A quarantined instance (:mod:`claimx_worker.plugins.quarantine`) is not called: with policy
  ``skip`` the stage goes on without it (counted), with ``hold`` the stage stops and its result
  names the instance (``held_by``), for the event to be retried.
- A :class:`~claimx_worker.ChangeRows` (``on_enrichment_complete`` only) is returned with the
  actions; the pipeline applies it to the event's rows instead of running it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import Any

from attrs import define, frozen
from loguru import logger

from claimx_worker.conditions.compiled import ConditionMatcher, compile_conditions
from claimx_worker.model.actions import ACTION_TYPES, Action, Filter
from claimx_worker.model.context import EventFailure, HandlerMetadata, PluginContext, Stage
from claimx_worker.model.event import ClaimXEvent
from claimx_worker.model.row_changes import ChangeRows
from claimx_worker.model.rows import EntityRows
from claimx_worker.plugins.isolation import call_hook, describe
from claimx_worker.plugins.loading import PluginSet
from claimx_worker.plugins.metrics import ErrorKind, HookStats, PluginMetrics
from claimx_worker.plugins.quarantine import InstanceBreaker
from claimx_worker.plugins.settings import InstanceMode, QuarantinePolicy
from claimx_worker.plugins.watchdog import HookHungError, HookWatch

DEFAULT_BUDGET_MS = 50.0
"""Default time budget of one hook call, in milliseconds (per instance: ``timeout_ms``)."""


@define
class PluginAction:
    """An action returned by an instance; ``index`` is its position in that instance's result.

    The action executor derives the idempotency key from (event id, ``instance``, ``index``).
    Not frozen: one is built per action per event, in half a frozen class's time.
    """

    instance: str
    index: int
    action: Action


@frozen(slots=False)
class StageResult:
    """What a stage produced: the actions in run order, and the filter that stopped it, if any.

    A dict class: built per stage call, and attrs builds a frozen one faster than a slotted one.
    """

    actions: tuple[PluginAction, ...] = ()
    filtered_by: str | None = None
    """The instance whose :class:`Filter` stopped the stage."""
    filter: Filter | None = None
    held_by: str | None = None
    """The quarantined instance (policy ``hold``) that stopped the stage: retry the event."""

    @property
    def filtered(self) -> bool:
        """True when an instance filtered the event."""
        return self.filter is not None


EMPTY_RESULT = StageResult()
_DELIVERABLE = tuple(
    action_type for action_type in ACTION_TYPES if action_type not in (Filter, ChangeRows)
)
"""What ``on_event_failed`` may return: no Filter, no row change (the rows are not written)."""
_ACCEPTED_CLASSES = {
    Stage.EVENT_RECEIVED: frozenset[type](),  # only a single Filter: see _valid_actions
    Stage.ENRICHMENT_COMPLETE: frozenset(ACTION_TYPES),
    Stage.EVENT_FAILED: frozenset(_DELIVERABLE),
}
"""Per stage, the action classes a returned list may hold as they are (checked in one C call);
anything else (a single action, a tuple, a subclass) goes through :func:`_valid_actions`."""


_new_context = tuple.__new__
"""Builds a :class:`PluginContext` from its fields in order, skipping the named tuple's
Python-level ``__new__`` (half the time of ``PluginContext(...)``)."""


def hook_name(stage: Stage) -> str:
    """The hook called at ``stage`` (``on_enrichment_complete`` for ``enrichment_complete``)."""
    return f"on_{stage.value}"


class _Call:
    """One instance's implementation of one hook, with everything the hot path needs."""

    __slots__ = (
        "argnames",
        "breaker",
        "budget",
        "conditions",
        "config",
        "context_only",
        "deadline",
        "function",
        "hook",
        "instance",
        "is_async",
        "shadow",
        "stats",
    )

    def __init__(
        self,
        *,
        instance: str,
        hook: str,
        config: Any,
        function: Callable[..., Any],
        argnames: tuple[str, ...],
        budget: float,
        stats: HookStats,
        conditions: ConditionMatcher | None,
        breaker: InstanceBreaker,
        deadline: float,
        shadow: bool,
    ) -> None:
        self.is_async = inspect.iscoroutinefunction(function)
        self.instance = instance
        self.hook = hook
        self.config = config
        self.function = function
        self.argnames = argnames
        self.budget = budget
        self.stats = stats
        self.conditions = conditions
        self.breaker = breaker
        self.deadline = deadline
        """When a sync call of this hook counts as hung (seconds)."""
        self.shadow = shadow
        """The instance is in shadow mode: its :class:`Filter` is recorded, it filters nothing."""
        self.context_only = argnames == ("context",)

    def arguments(self, context: PluginContext[Any], error: EventFailure | None) -> list[Any]:
        """The positional arguments of the implementation, in its own order."""
        values = {"context": context, "error": error}
        return [values[name] for name in self.argnames]


class StageRunner:
    """Runs the stage hooks of a :class:`PluginSet`; never raises because of a plugin.

    ``breakers`` holds each instance's quarantine state, ``watch`` the mark of the sync call
    running (for the hung-hook watchdog), ``hung_hook_seconds`` the least deadline of a sync call.
    """

    def __init__(
        self,
        plugins: PluginSet,
        metrics: PluginMetrics,
        *,
        budget_ms: float,
        breakers: Mapping[str, InstanceBreaker],
        watch: HookWatch,
        hung_hook_seconds: float,
    ) -> None:
        self._watch = watch
        self._calls = {
            stage: _bind(plugins, metrics, stage, budget_ms, breakers, hung_hook_seconds)
            for stage in Stage
        }

    def instances(self, stage: Stage) -> tuple[str, ...]:
        """The instances called at ``stage``, in run order."""
        return tuple(call.instance for call in self._calls[stage])

    async def run(
        self,
        stage: Stage,
        event: ClaimXEvent,
        rows: EntityRows,
        metadata: HandlerMetadata,
        error: EventFailure | None = None,
    ) -> StageResult:
        """Call every instance's hook for ``stage`` in order; see the module docstring."""
        calls = self._calls[stage]
        if not calls:
            return EMPTY_RESULT
        accepted = _ACCEPTED_CLASSES[stage]
        actions: list[PluginAction] = []
        watch = self._watch
        for call in calls:
            if call.conditions is not None and not call.conditions.matches(event, rows):
                continue
            breaker = call.breaker
            if breaker.blocked and not breaker.admit(perf_counter()):
                if breaker.policy is QuarantinePolicy.HOLD and stage is not Stage.EVENT_FAILED:
                    return StageResult(tuple(actions), held_by=call.instance)
                breaker.skips += 1
                continue
            context = _new_context(
                PluginContext, (event, stage, rows, metadata, call.config, call.instance)
            )
            if call.is_async:
                outcome = await call_hook(
                    call.function, call.arguments(context, error), call.budget
                )
                call.stats.observe(outcome.elapsed)
                if outcome.failure is ErrorKind.TIMEOUT:
                    elapsed_ms = round(outcome.elapsed * 1000, 3)
                    self._fail(call, ErrorKind.TIMEOUT, event, elapsed_ms=elapsed_ms)
                elif outcome.failure is not None:
                    self._fail(call, ErrorKind.EXCEPTION, event, exc=outcome.error)
                else:
                    breaker.succeeded()
                result = outcome.result
            else:  # the hot path, inline
                start = perf_counter()
                try:
                    watch.start = start
                    watch.call = call
                    try:
                        if call.context_only:
                            result = call.function(context)
                        else:
                            result = call.function(*call.arguments(context, error))
                    finally:  # inside the outer try: an interrupt landing here is caught there
                        watch.call = None
                except HookHungError as exc:
                    call.stats.observe(perf_counter() - start)
                    self._fail(call, ErrorKind.TIMEOUT, event, exc=exc)
                    continue
                except BaseException as exc:  # all the hook's: see the module docstring
                    call.stats.observe(perf_counter() - start)
                    self._fail(call, ErrorKind.EXCEPTION, event, exc=exc)
                    continue
                elapsed = perf_counter() - start
                call.stats.observe(elapsed)
                if elapsed > call.budget:
                    self._fail(call, ErrorKind.TIMEOUT, event, elapsed_ms=round(elapsed * 1000, 3))
                else:
                    breaker.succeeded()
            if result is None:
                continue
            items: Sequence[Action] | None
            if type(result) is list and result and accepted.issuperset(map(type, result)):
                items = result  # the common case: a list of the stage's action classes
            else:
                items = _valid_actions(stage, result)
            if items is None:
                self._fail(call, ErrorKind.INVALID_RETURN, event, returned=type(result).__name__)
                continue
            for index, action in enumerate(items):
                if isinstance(action, Filter) and not call.shadow:
                    return StageResult(tuple(actions), call.instance, action)
                actions.append(PluginAction(call.instance, index, action))
        return StageResult(tuple(actions)) if actions else EMPTY_RESULT

    @staticmethod
    def _fail(
        call: _Call,
        kind: ErrorKind,
        event: ClaimXEvent,
        *,
        exc: BaseException | None = None,
        **fields: Any,
    ) -> None:
        call.stats.errors[kind] += 1
        if isinstance(exc, HookHungError):
            call.breaker.hung(perf_counter())
        else:
            call.breaker.failed(perf_counter())
        log = logger.bind(
            instance=call.instance,
            hook=call.hook,
            kind=kind.value,
            event_id=event.event_id,
            event_type=event.event_type,
            **fields,
        )
        if isinstance(exc, HookHungError):
            log.bind(error=describe(exc), deadline_seconds=call.deadline).error(
                "Plugin hook hung; interrupted, its instance quarantined"
            )
        elif kind is ErrorKind.EXCEPTION:
            assert exc is not None
            log.bind(error=describe(exc)).opt(exception=exc).error("Plugin hook raised; ignored")
        elif kind is ErrorKind.TIMEOUT:
            log.bind(budget_ms=call.budget * 1000).warning("Plugin hook exceeded its time budget")
        else:
            log.error("Plugin hook returned an invalid value; ignored")


def _bind(
    plugins: PluginSet,
    metrics: PluginMetrics,
    stage: Stage,
    budget_ms: float,
    breakers: Mapping[str, InstanceBreaker],
    hung_hook_seconds: float,
) -> tuple[_Call, ...]:
    """The calls of ``stage``'s hook in run order."""
    hook = hook_name(stage)
    calls: list[_Call] = []
    for instance in plugins.instances:
        implementation = instance.implementations.get(hook)
        if implementation is None:
            continue
        budget = (instance.spec.timeout_ms or budget_ms) / 1000
        call = _Call(
            instance=instance.name,
            hook=hook,
            config=instance.config,
            function=implementation.function,
            argnames=implementation.argnames,
            budget=budget,
            stats=metrics.stats(instance.name, hook),
            conditions=(
                compile_conditions(instance.spec.conditions)
                if stage is Stage.ENRICHMENT_COMPLETE and instance.spec.conditions is not None
                else None
            ),
            breaker=breakers[instance.name],
            deadline=max(budget, hung_hook_seconds),
            shadow=instance.spec.mode is InstanceMode.SHADOW,
        )
        calls.append(call)
    return tuple(calls)


def _valid_actions(stage: Stage, result: object) -> Sequence[Action] | None:
    """``result`` as a sequence of actions allowed at ``stage``, or ``None`` when invalid."""
    if stage is Stage.EVENT_RECEIVED:
        return (result,) if isinstance(result, Filter) else None
    items: Sequence[object]
    if isinstance(result, (list, tuple)):
        items = result
    elif isinstance(result, ACTION_TYPES):
        items = (result,)
    else:
        return None
    allowed = _DELIVERABLE if stage is Stage.EVENT_FAILED else ACTION_TYPES
    for item in items:
        if not isinstance(item, allowed):
            return None
    return items
