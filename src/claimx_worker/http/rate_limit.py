"""A request-rate limit: starts spaced evenly at ``rate`` per second; waits end at a deadline."""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """Hands out start times ``1 / rate`` seconds apart, in call order (no bursts: over any
    window the rate stays at or under ``rate``). One per event loop; no lock is needed because a
    slot is reserved before the caller waits for it."""

    __slots__ = ("_interval", "_next")

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0

    async def acquire(self, deadline: float) -> bool:
        """Wait for the next start slot; ``False`` (nothing reserved) when it comes after the
        monotonic ``deadline``."""
        now = time.monotonic()
        slot = max(now, self._next)
        if slot > deadline:
            return False
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)
        return True
