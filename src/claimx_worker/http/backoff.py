"""How long to wait before retrying an HTTP request: exponential backoff with jitter, unless the
server asked for a wait with ``Retry-After``. Each caller keeps its own limits (the ClaimX
client's quick retries, the webhook delivery's attempts and age)."""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import attrs

FULL_JITTER = (0.0, 1.0)
"""Waits spread uniformly between zero and the bound."""

_SECONDS = re.compile(r"\d+(?:\.\d+)?")


@attrs.frozen(kw_only=True)
class Backoff:
    """The wait before retry ``n`` (from 1) is ``min(cap, first * 2**(n - 1))`` seconds times a
    factor drawn uniformly from ``jitter``."""

    first: float
    cap: float = math.inf
    jitter: tuple[float, float] = FULL_JITTER

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry``."""
        bound = min(self.cap, self.first * 2.0 ** min(retry - 1, 62))
        return bound * rng.uniform(*self.jitter)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (seconds, decimals allowed, or an HTTP
    date), or ``None`` when absent or unparsable. Dates in the past give ``0``."""
    if value is None:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
