"""Key-ordered dispatch: one job at a time per key, in submission order; keys run concurrently."""

from __future__ import annotations

import asyncio
import types
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar

J = TypeVar("J")

Rest = Coroutine[Any, Any, None]
"""What is left of a job after its synchronous start: awaited in the key's order."""


class KeyedDispatcher(Generic[J]):
    """Runs submitted jobs: jobs with the same key one after another in the order submitted, jobs
    with different keys (or no key) concurrently.

    ``start(job)`` runs a job *eagerly* up to its first suspension and returns ``None`` if it
    finished, else a coroutine for the rest (see :func:`resume`). Only a job that suspends gets a
    task (most of a fast job's cost would otherwise be the task); that task then runs the jobs
    queued behind its key until the queue is empty. ``start`` and the rest must not raise
    (exceptions are the caller's to route); bounding the number of jobs is the caller's job too.
    """

    def __init__(self, start: Callable[[J], Rest | None]) -> None:
        self._start = start
        self._queues: dict[bytes, deque[J]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        """Suspended jobs (each with a task)."""
        return len(self._tasks)

    def submit(self, key: bytes | None, job: J) -> None:
        """Start ``job`` now if ``key`` is idle, else queue it behind the key's earlier jobs
        (``None``: no ordering constraint)."""
        if key is not None:
            queue = self._queues.get(key)
            if queue is not None:
                queue.append(job)
                return
        rest = self._start(job)
        if rest is None:
            return
        if key is None:
            self._spawn(rest)
        else:
            self._queues[key] = deque()
            self._spawn(self._then_drain(key, rest))

    def _spawn(self, coro: Rest) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _then_drain(self, key: bytes, rest: Rest) -> None:
        """Finish the key's suspended job, then run the jobs queued behind it in order."""
        try:
            await rest
            queue = self._queues[key]
            while queue:
                rest_of_next = self._start(queue.popleft())
                if rest_of_next is not None:
                    await rest_of_next
        finally:
            del self._queues[key]

    async def cancel(self) -> None:
        """Cancel every suspended job and drop queued ones (a forced shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@types.coroutine
def resume(coro: Coroutine[Any, Any, Any], awaited: Any) -> Generator[Any, Any, Any]:
    """Await the rest of a coroutine that already ran to its first suspension by
    ``awaited = coro.send(None)``; returns what the coroutine returns.

    It hands ``awaited`` (the future the coroutine waits for, or ``None`` for a bare yield) to the
    awaiting task, and passes what the task sends or throws back into the coroutine: the task then
    drives the coroutine exactly as if it had started it. Await it from an ``async def``: it is a
    generator-based coroutine, which ``asyncio.create_task`` refuses from Python 3.12 on.
    """
    while True:
        try:
            sent = yield awaited
        except BaseException as exc:  # cancellation, delivered into the coroutine
            try:
                awaited = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                awaited = coro.send(sent)
            except StopIteration as stop:
                return stop.value
