"""Backoff waits and Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from claimx_worker.http.backoff import Backoff, parse_retry_after


def test_full_jitter_under_a_doubling_capped_bound() -> None:
    backoff = Backoff(first=0.5, cap=3.0)
    rng = random.Random(7)
    for retry, bound in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (30, 3.0), (500, 3.0)]:
        delays = [backoff.delay(retry, rng) for _ in range(300)]
        assert all(0.0 <= d <= bound for d in delays)
        assert max(delays) > bound * 0.9  # spread over the whole range, not a fixed value
        assert min(delays) < bound * 0.1


def test_a_narrow_jitter_stays_around_the_uncapped_doubling() -> None:
    backoff = Backoff(first=0.1, jitter=(0.8, 1.2))
    rng = random.Random(7)
    for retry, middle in [(1, 0.1), (2, 0.2), (3, 0.4), (11, 102.4)]:
        delays = [backoff.delay(retry, rng) for _ in range(300)]
        assert all(middle * 0.8 <= d <= middle * 1.2 for d in delays)
        assert max(delays) > middle * 1.15
        assert min(delays) < middle * 0.85


def test_parse_retry_after_seconds_and_dates() -> None:
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(" 0 ", now) == 0.0
    assert parse_retry_after("1.5", now) == 1.5
    later = now + timedelta(seconds=30)
    assert parse_retry_after(later.strftime("%a, %d %b %Y %H:%M:%S GMT"), now) == 30.0
    earlier = now - timedelta(minutes=5)
    assert parse_retry_after(earlier.strftime("%a, %d %b %Y %H:%M:%S GMT"), now) == 0.0
    for junk in (None, "", "soon", "-3", "1.5e3", "inf", "nan", "1.", ".5"):
        assert parse_retry_after(junk, now) is None
