"""Retry policy decisions, Retry-After parsing and the retry loop."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from claimx_worker.actions.retry import (
    Failure,
    GiveUp,
    RetryPolicy,
    deliver,
    parse_retry_after,
)

TRANSIENT = Failure(error="HTTP 503", retryable=True, status=503)


def test_backoff_is_full_jitter_under_a_doubling_capped_bound() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=3.0)
    rng = random.Random(7)
    for failures, bound in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (30, 3.0), (500, 3.0)]:
        delays = [policy.backoff(failures, rng) for _ in range(300)]
        assert all(0.0 <= d <= bound for d in delays)
        assert max(delays) > bound * 0.9  # spread over the whole range, not a fixed value
        assert min(delays) < bound * 0.1


def test_next_delay_gives_up_for_permanent_failures() -> None:
    policy = RetryPolicy()
    failure = Failure(error="HTTP 404", retryable=False, status=404)
    assert policy.next_delay(failure, 1, 0.0, random.Random()) is GiveUp.PERMANENT


def test_a_refused_attempt_gives_up_as_max_age() -> None:
    refused = Failure(error="circuit open", retryable=False, attempted=False)
    assert RetryPolicy().next_delay(refused, 0, 5.0, random.Random()) is GiveUp.MAX_AGE


def test_next_delay_counts_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    rng = random.Random(1)
    assert isinstance(policy.next_delay(TRANSIENT, 2, 0.0, rng), float)
    assert policy.next_delay(TRANSIENT, 3, 0.0, rng) is GiveUp.MAX_ATTEMPTS


def test_retry_after_replaces_the_backoff_and_respects_max_age() -> None:
    policy = RetryPolicy(max_age=60.0, backoff_cap=1.0)
    asked = Failure(error="HTTP 429", retryable=True, status=429, retry_after=20.0)
    assert policy.next_delay(asked, 1, 10.0, random.Random()) == 20.0
    assert policy.next_delay(asked, 1, 45.0, random.Random()) is GiveUp.MAX_AGE


def test_parse_retry_after_seconds_and_dates() -> None:
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(" 0 ", now) == 0.0
    later = now + timedelta(seconds=30)
    assert parse_retry_after(later.strftime("%a, %d %b %Y %H:%M:%S GMT"), now) == 30.0
    earlier = now - timedelta(minutes=5)
    assert parse_retry_after(earlier.strftime("%a, %d %b %Y %H:%M:%S GMT"), now) == 0.0
    for junk in (None, "", "soon", "-3", "1.5e3"):
        assert parse_retry_after(junk, now) is None


async def test_deliver_retries_until_success_and_reports_attempts() -> None:
    results: list[Failure | None] = [TRANSIENT, TRANSIENT, None]
    retries: list[tuple[int, float]] = []

    async def attempt(deadline: float) -> Failure | None:
        assert deadline > time.monotonic()
        return results.pop(0)

    policy = RetryPolicy(backoff_base=0.001, backoff_cap=0.002)
    report = await deliver(
        attempt,
        policy,
        submitted=time.monotonic(),
        rng=random.Random(3),
        on_retry=lambda failure, attempts, delay: retries.append((attempts, delay)),
    )
    assert report.delivered
    assert report.attempts == 3
    assert [attempts for attempts, _ in retries] == [1, 2]
    assert report.first_attempt_at is not None
    assert report.last_attempt_at is not None
    assert report.first_attempt_at < report.last_attempt_at


async def test_deliver_stops_after_max_attempts_with_the_last_error() -> None:
    calls = 0

    async def attempt(_: float) -> Failure | None:
        nonlocal calls
        calls += 1
        return Failure(error=f"HTTP 50{calls}", retryable=True, status=500 + calls)

    policy = RetryPolicy(max_attempts=4, backoff_base=0.001, backoff_cap=0.001)
    report = await deliver(
        attempt, policy, submitted=time.monotonic(), rng=random.Random(), on_retry=lambda *_: None
    )
    assert calls == 4
    assert not report.delivered
    assert (report.attempts, report.give_up) == (4, GiveUp.MAX_ATTEMPTS)
    assert (report.error, report.status) == ("HTTP 504", 504)


async def test_deliver_does_not_count_refused_attempts() -> None:
    async def attempt(_: float) -> Failure | None:
        return Failure(error="circuit open", retryable=False, attempted=False)

    report = await deliver(
        attempt,
        RetryPolicy(),
        submitted=time.monotonic(),
        rng=random.Random(),
        on_retry=lambda *_: None,
    )
    assert (report.delivered, report.attempts, report.give_up) == (False, 0, GiveUp.MAX_AGE)
    assert report.first_attempt_at is None


@pytest.mark.parametrize("retry_after", [0.05, 0.15])
async def test_deliver_sleeps_for_retry_after(retry_after: float) -> None:
    seen: list[float] = []

    async def attempt(_: float) -> Failure | None:
        seen.append(time.monotonic())
        if len(seen) == 1:
            return Failure(error="HTTP 429", retryable=True, status=429, retry_after=retry_after)
        return None

    report = await deliver(
        attempt,
        RetryPolicy(backoff_base=0.001, backoff_cap=0.001),
        submitted=time.monotonic(),
        rng=random.Random(),
        on_retry=lambda *_: None,
    )
    assert report.delivered
    assert seen[1] - seen[0] >= retry_after
