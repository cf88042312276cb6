"""Pacing one client against a server that rate-limits it (HTTP 429): rate limiting is not an
outage, so it slows the client down instead of counting against the circuit breaker.

:class:`Pacer` admits requests up to an in-flight limit that adapts the TCP way (AIMD): each
answered request raises it by ``1 / limit`` (about one per round of requests), up to the
configured maximum; a 429 halves it (once per round: the answers of requests already out when
the limit was cut do not cut it again), down to one. A 429 also pauses the whole client for its
``Retry-After`` (counted from the answer): no request of the client goes out meanwhile.

Requests that find no room wait in line and are handed a freed slot in turn: a release wakes
one waiter, not every one of them (with hundreds waiting, waking them all to re-check cost a
tenth of the worker's profile samples).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

from claimx_worker.errors import DeferredError


class RateLimitedError(DeferredError):
    """The server answered 429 to every quick retry: the event waits on a retry topic without
    spending an attempt."""


def _ignore(_: float) -> None:
    pass


class Pacer:
    """The adaptive in-flight limit and the client-wide pause of one client.

    ``on_limit`` is told every new limit (for a gauge); ``clock`` is monotonic seconds.
    """

    __slots__ = (
        "_clock",
        "_cut_at",
        "_in_flight",
        "_limit",
        "_maximum",
        "_on_limit",
        "_pause_timer",
        "_resume_at",
        "_waiters",
    )

    def __init__(
        self,
        maximum: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_limit: Callable[[float], None] = _ignore,
    ) -> None:
        self._maximum = maximum
        self._limit = float(maximum)
        self._in_flight = 0
        self._resume_at = -math.inf
        self._cut_at = -math.inf
        self._clock = clock
        self._on_limit = on_limit
        self._waiters: deque[asyncio.Future[None]] = deque()
        """Requests waiting for a slot, in arrival order; a waiter's future is resolved once a
        slot was taken for it."""
        self._pause_timer: asyncio.TimerHandle | None = None
        on_limit(self._limit)

    def __repr__(self) -> str:
        return f"Pacer(limit={self.limit}, in_flight={self._in_flight})"

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        return max(1, math.floor(self._limit))

    @property
    def paused_for(self) -> float:
        """Seconds until the client-wide pause ends (0 when not paused)."""
        return max(0.0, self._resume_at - self._clock())

    async def acquire(self) -> float:
        """Wait for the pause to end and for room under the limit (behind the requests already
        waiting); return the admission time (give it back to :meth:`release`)."""
        if not self._waiters and self._in_flight < self.limit and not self.paused_for:
            self._in_flight += 1
            return self._clock()
        handed = asyncio.get_running_loop().create_future()
        self._waiters.append(handed)
        try:
            await handed
        except BaseException:
            if not handed.cancelled():  # handed a slot, then cancelled before it could use it
                self.cancel()
            elif handed in self._waiters:
                self._waiters.remove(handed)
            raise
        return self._clock()

    def release(self, admitted_at: float, *, retry_after: float | None = None) -> bool:
        """End a request admitted at ``admitted_at``: ``retry_after`` is ``None`` unless the
        server answered 429 (then the seconds it asked for; 0 when it named none). Returns
        whether the limit was cut."""
        self._in_flight -= 1
        cut = False
        if retry_after is None:
            if self._limit < self._maximum:
                self._limit = min(float(self._maximum), self._limit + 1 / self._limit)
                self._on_limit(self._limit)
        else:
            now = self._clock()
            self._resume_at = max(self._resume_at, now + retry_after)
            if self._pause_timer is None and retry_after > 0:
                self._pause_timer = asyncio.get_running_loop().call_later(
                    retry_after, self._end_pause
                )
            if admitted_at >= self._cut_at:  # sent after the last cut: this round's first 429
                self._cut_at = now
                self._limit = max(1.0, self._limit / 2)
                self._on_limit(self._limit)
                cut = True
        self._wake()
        return cut

    def cancel(self) -> None:
        """End a request that got no answer (cancelled, timed out, connection failed)."""
        self._in_flight -= 1
        self._wake()

    def _end_pause(self) -> None:
        self._pause_timer = None
        wait = self.paused_for
        if wait > 0:  # a later 429 lengthened the pause (or the timer fired a little early)
            self._pause_timer = asyncio.get_running_loop().call_later(wait, self._end_pause)
        else:
            self._wake()

    def _wake(self) -> None:
        """Take the free slots for the waiters first in line (none during a pause)."""
        waiters = self._waiters
        if not waiters or self.paused_for:
            return
        while waiters and self._in_flight < self.limit:
            handed = waiters.popleft()
            if not handed.done():  # skip a waiter cancelled since it lined up
                self._in_flight += 1
                handed.set_result(None)
