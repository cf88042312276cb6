"""One hook call in isolation: timed against its budget, and whatever the hook raises contained.

A plugin is trusted code, but its failure stays its own. :func:`call_hook` contains every
exception a hook raises, ``BaseException`` included: ``SystemExit`` (``sys.exit()``),
``KeyboardInterrupt``, and an ``asyncio.CancelledError`` the hook raised itself (or got from a
future that something else cancelled). Only a real cancellation of the task awaiting the hook
(shutdown, a drain deadline) propagates. The two are told apart as :func:`asyncio.timeout`
does: :meth:`asyncio.Task.cancel` raises the task's :meth:`~asyncio.Task.cancelling` count, a
``CancelledError`` the hook raises does not; so a ``CancelledError`` with the count above its
value at the start of the call is a real cancellation.

A call past its budget is a timeout. An ``async def`` hook is cancelled at its budget and its
result is lost. A sync hook (or an async one that blocks without awaiting) cannot be
pre-empted: it runs to completion, and a call past its budget is reported with its result kept.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any

from attrs import frozen

from claimx_worker.plugins.metrics import ErrorKind


@frozen
class HookCall:
    """What one hook call did: its result, its duration and, when it failed, how."""

    result: Any
    """What the hook returned (``None`` when it did not complete)."""
    elapsed: float
    """Seconds from the call to its end."""
    failure: ErrorKind | None = None
    """``exception`` when it raised, ``timeout`` when it ran past its budget."""
    error: BaseException | None = None
    """What ended the call early: the hook's exception, or the ``TimeoutError`` of its budget."""

    @property
    def completed(self) -> bool:
        """True when the hook returned (maybe past its budget), so :attr:`result` is its own."""
        return self.error is None


NOT_CALLED = HookCall(None, 0.0)
"""The outcome of a hook an instance does not implement."""


async def call_hook(
    function: Callable[..., Any], arguments: Sequence[Any], budget: float
) -> HookCall:
    """Call ``function(*arguments)``, awaiting its result when awaitable, within ``budget``
    seconds (see the module docstring). Raises only ``CancelledError``, and only when the
    calling task is being cancelled."""
    task = asyncio.current_task()
    assert task is not None, "hooks are called from a task"
    cancelling = task.cancelling()
    scope = asyncio.timeout(budget)
    start = perf_counter()
    try:
        async with scope:
            result = function(*arguments)
            if inspect.isawaitable(result):
                result = await result
    except BaseException as exc:
        elapsed = perf_counter() - start
        if isinstance(exc, TimeoutError) and scope.expired():
            return HookCall(None, elapsed, ErrorKind.TIMEOUT, exc)
        if isinstance(exc, asyncio.CancelledError) and task.cancelling() > cancelling:
            raise  # the caller is being cancelled: not the hook's failure
        return HookCall(None, elapsed, ErrorKind.EXCEPTION, exc)
    elapsed = perf_counter() - start
    return HookCall(result, elapsed, ErrorKind.TIMEOUT if elapsed > budget else None)


def describe(error: BaseException) -> str:
    """``Type: message``, or ``Type`` alone when the exception has no message."""
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
