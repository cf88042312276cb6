"""Watching the hook calls of a loaded plugin set: each call's result, exception and time, and
the I/O guard around stage hooks. The plugin set itself is never changed: the observer wraps a
copy of its call table."""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import time
from typing import Any

import attrs
from attrs import define

from claimx_worker.model import EntityRows, PluginContext, Stage
from claimx_worker.model.rows import ROW_LISTS
from claimx_worker.plugins.loading import PluginSet
from claimx_worker.testing.io_guard import IOGuard

STAGE_HOOKS = {stage: f"on_{stage.value}" for stage in Stage}
"""The hook of each stage."""


@define
class ObservedCall:
    """What one hook call did; ``changed_rows`` names the row lists of its context it changed
    (they are read-only: the worker would write the changed rows)."""

    elapsed: float = 0.0
    returned: Any = None
    exception: BaseException | None = None
    changed_rows: tuple[str, ...] = ()


class HookObserver:
    """Wraps the hook functions the host calls to record each call's result, exception and
    time, and to mark stage hook calls for the I/O guard."""

    def __init__(self, guard: IOGuard | None) -> None:
        self._guard = guard
        self.calls: dict[tuple[str, str], ObservedCall] = {}

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

        def record(call: ObservedCall, started: float, rows: _RowsSnapshot | None) -> None:
            call.elapsed = time.perf_counter() - started
            if rows is not None:
                call.changed_rows = rows.changed()
            self.calls[(instance, hook)] = call

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def observed_async(*args: Any) -> Any:
                rows = _RowsSnapshot.of(args)  # before the clock starts
                call, started = ObservedCall(), time.perf_counter()
                try:
                    with _watching(guard, instance, hook):
                        call.returned = await function(*args)
                except BaseException as exc:
                    call.exception = exc
                    raise
                finally:
                    record(call, started, rows)
                return call.returned

            return observed_async

        @functools.wraps(function)
        def observed(*args: Any) -> Any:
            rows = _RowsSnapshot.of(args)  # before the clock starts
            call, started = ObservedCall(), time.perf_counter()
            try:
                with _watching(guard, instance, hook):
                    call.returned = function(*args)
            except BaseException as exc:
                call.exception = exc
                raise
            finally:
                record(call, started, rows)
            return call.returned

        return observed


class _RowsSnapshot:
    """A copy of the rows a stage hook's context holds, to tell what the hook changed."""

    def __init__(self, rows: EntityRows) -> None:
        self._rows = rows
        self._before = {name: copy.deepcopy(list(rows.columns(name))) for name in ROW_LISTS}

    @classmethod
    def of(cls, args: tuple[Any, ...]) -> _RowsSnapshot | None:
        """The snapshot of the context among a hook's ``args``; ``None`` for a lifecycle hook."""
        context = next((arg for arg in args if isinstance(arg, PluginContext)), None)
        return None if context is None else cls(context.rows)

    def changed(self) -> tuple[str, ...]:
        """The row lists that differ from the copy."""
        return tuple(
            name
            for name, before in self._before.items()
            if list(self._rows.columns(name)) != before
        )


def _watching(
    guard: IOGuard | None, instance: str, hook: str
) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext() if guard is None else guard.watching(instance, hook)
