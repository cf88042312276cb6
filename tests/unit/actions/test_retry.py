"""Retry policy decisions and the retry loop."""

from __future__ import annotations

import random
import time

import pytest

from claimx_worker.actions.retry import (
    Failure,
    GiveUp,
    RetryPolicy,
    deliver,
)
from claimx_worker.http.backoff import Backoff

TRANSIENT = Failure(error="HTTP 503", retryable=True, status=503)


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
    policy = RetryPolicy(max_age=60.0, backoff=Backoff(first=0.5, cap=1.0))
    asked = Failure(error="HTTP 429", retryable=True, status=429, retry_after=20.0)
    assert policy.next_delay(asked, 1, 10.0, random.Random()) == 20.0
    assert policy.next_delay(asked, 1, 45.0, random.Random()) is GiveUp.MAX_AGE


async def test_deliver_retries_until_success_and_reports_attempts() -> None:
    results: list[Failure | None] = [TRANSIENT, TRANSIENT, None]
    retries: list[tuple[int, float]] = []

    async def attempt(deadline: float) -> Failure | None:
        assert deadline > time.monotonic()
        return results.pop(0)

    policy = RetryPolicy(backoff=Backoff(first=0.001, cap=0.002))
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

    policy = RetryPolicy(max_attempts=4, backoff=Backoff(first=0.001, cap=0.001))
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
        RetryPolicy(backoff=Backoff(first=0.001, cap=0.001)),
        submitted=time.monotonic(),
        rng=random.Random(),
        on_retry=lambda *_: None,
    )
    assert report.delivered
    assert seen[1] - seen[0] >= retry_after
