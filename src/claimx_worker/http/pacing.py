"""Pacing one client against a server that rate-limits it (HTTP 429): rate limiting is not an
outage, so it slows the client down instead of counting against the circuit breaker.

:class:`Pacer` admits requests up to an in-flight limit that adapts the TCP way (AIMD): each
answered request raises it by ``1 / limit`` (about one per round of requests), up to the
configured maximum; a 429 halves it (once per round: the answers of requests already out when
the limit was cut do not cut it again), down to one. A 429 also pauses the whole client for its
``Retry-After`` (counted from the answer): no request of the client goes out meanwhile.
"""

from __future__ import annotations

import asyncio
import math
import time
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
        "_changed",
        "_clock",
        "_cut_at",
        "_in_flight",
        "_limit",
        "_maximum",
        "_on_limit",
        "_resume_at",
        "_waiting",
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
        self._changed = asyncio.Event()
        self._waiting = 0
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
        """Wait for the pause to end and for room under the limit; return the admission time
        (give it back to :meth:`release`)."""
        while True:
            wait = self.paused_for
            if wait <= 0 and self._in_flight < self.limit:
                self._in_flight += 1
                return self._clock()
            changed = self._changed
            self._waiting += 1
            try:
                async with asyncio.timeout(wait if wait > 0 else None):
                    await changed.wait()
            except TimeoutError:
                pass
            finally:
                self._waiting -= 1

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

    def _wake(self) -> None:
        if self._waiting:  # no event churn on the fast path
            self._changed.set()
            self._changed = asyncio.Event()
