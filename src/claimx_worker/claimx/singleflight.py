"""Single-flight with a short-lived cache: concurrent loads of one key share one call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlightCache(Generic[K, V]):
    """Loads a key at most once at a time and reuses the value for ``ttl_seconds``.

    Every caller gets the value: a cache hit returns it exactly as a load would. Failures are
    shared by the callers waiting on that load and never cached. A caller cancelled while waiting
    does not cancel the load the others wait on.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._values: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Task[V]] = {}

    def peek(self, key: K) -> V | None:
        """The cached, unexpired value of ``key``, or ``None``; never loads."""
        cached = self._values.get(key)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        return None

    async def get(self, key: K, load: Callable[[], Awaitable[V]], *, fresh: bool = False) -> V:
        """The cached value of ``key`` (unless ``fresh``), else join or start its load."""
        if not fresh:
            cached = self._values.get(key)
            if cached is not None and cached[0] > self._clock():
                return cached[1]
        task = self._loading.get(key)
        if task is None:
            task = asyncio.ensure_future(self._load(key, load))
            task.add_done_callback(_retrieve_exception)
            self._loading[key] = task
        return await asyncio.shield(task)

    async def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await load()
        finally:
            del self._loading[key]
        if self._ttl > 0:
            self._store(key, value)
        return value

    def _store(self, key: K, value: V) -> None:
        now = self._clock()
        self._values.pop(key, None)
        self._values[key] = (now + self._ttl, value)
        if len(self._values) > self._max_entries:
            for stale in [k for k, (expires, _) in self._values.items() if expires <= now]:
                del self._values[stale]
            while len(self._values) > self._max_entries:
                del self._values[next(iter(self._values))]


def _retrieve_exception(task: asyncio.Task[V]) -> None:
    # Mark a failure as seen even when every waiter was cancelled (no "never retrieved" noise).
    if not task.cancelled():
        task.exception()
