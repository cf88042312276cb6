"""Liveness (an event-loop heartbeat) and readiness (named boolean checks) of one worker."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import NoReturn

import attrs

#: Implicit readiness check that fails while the heartbeat is stale.
HEARTBEAT_CHECK = "event_loop"


@attrs.frozen(slots=True)
class Liveness:
    """Whether the event loop beat recently; ``age`` is seconds since the last beat.

    ``beats`` and ``lag_total`` (seconds the beats ran late, summed) only ever grow.
    """

    alive: bool
    age: float
    beats: int
    lag_total: float


@attrs.frozen(slots=True)
class Readiness:
    """Every check by name (the heartbeat included) and whether all pass."""

    checks: dict[str, bool]

    @property
    def ready(self) -> bool:
        """True when every check passes."""
        return all(self.checks.values())

    @property
    def failing(self) -> list[str]:
        """Names of the failing checks, sorted."""
        return sorted(name for name, ok in self.checks.items() if not ok)


class HealthState:
    """Thread-safe health of one worker: written by its loop, read by the HTTP server.

    Liveness: :func:`run_heartbeat` (a task on the worker's loop) calls :meth:`beat` every
    second; the worker is alive while the last beat is at most ``stale_after`` seconds old.
    Creation counts as a beat, so a loop that never starts turns stale after the grace period.
    Readiness: the runtime and plugin host :meth:`declare` their checks (failing until set)
    and flip them with :meth:`set_check`; the worker is ready when all pass and it is alive.
    """

    __slots__ = ("_beats", "_checks", "_clock", "_lag_total", "_last_beat", "_lock", "stale_after")

    def __init__(
        self, *, stale_after: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stale_after = stale_after
        self._clock = clock
        self._lock = threading.Lock()
        self._last_beat = clock()
        self._beats = 0
        self._lag_total = 0.0
        self._checks: dict[str, bool] = {}

    def beat(self, *, loop_lag: float = 0.0) -> None:
        """Record that the event loop is alive; ``loop_lag`` is how late this beat ran."""
        now = self._clock()
        with self._lock:
            self._last_beat = now
            self._beats += 1
            self._lag_total += loop_lag

    def declare(self, *names: str) -> None:
        """Register readiness checks that start failing (names already known keep their state)."""
        with self._lock:
            for name in names:
                self._checks.setdefault(name, False)

    def set_check(self, name: str, ok: bool) -> None:
        """Set a readiness check (declaring it if new)."""
        with self._lock:
            self._checks[name] = ok

    def liveness(self) -> Liveness:
        """Current liveness."""
        now = self._clock()
        with self._lock:
            age = max(0.0, now - self._last_beat)
            return Liveness(
                alive=age <= self.stale_after, age=age, beats=self._beats, lag_total=self._lag_total
            )

    def readiness(self) -> Readiness:
        """Current readiness: the declared checks plus :data:`HEARTBEAT_CHECK`."""
        alive = self.liveness().alive
        with self._lock:
            return Readiness(checks={HEARTBEAT_CHECK: alive, **self._checks})


async def run_heartbeat(health: HealthState, *, interval: float = 1.0) -> NoReturn:
    """Beat ``health`` every ``interval`` seconds from the running loop, until cancelled.

    Each beat also records the loop lag: how much later than scheduled the loop woke it.
    """
    loop = asyncio.get_running_loop()
    lag = 0.0
    while True:
        health.beat(loop_lag=lag)
        due = loop.time() + interval
        await asyncio.sleep(interval)
        lag = max(0.0, loop.time() - due)
