"""Retry policy and loop of action delivery: attempt and age limits around the HTTP layer's
:class:`~claimx_worker.http.backoff.Backoff` (full jitter) or the receiver's ``Retry-After``.
Pure decisions (:class:`RetryPolicy`) plus one small loop."""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import attrs

from claimx_worker.http.backoff import Backoff


class GiveUp(enum.StrEnum):
    """Why delivery stopped without success."""

    PERMANENT = "permanent"
    MAX_ATTEMPTS = "max_attempts"
    MAX_AGE = "max_age"
    PARKED = "parked"
    """Not given up: parked on the action retry topic for redelivery (its record says so)."""


@attrs.frozen(kw_only=True)
class Failure:
    """One failed attempt, or a refusal to attempt (``attempted=False``, e.g. an open circuit
    until the deadline). Its ``error`` must be free of secrets."""

    error: str
    retryable: bool
    status: int | None = None
    retry_after: float | None = None
    attempted: bool = True


@attrs.frozen(kw_only=True)
class DeliveryReport:
    """The end of a delivery: delivered, or why not, after how many attempts."""

    delivered: bool
    attempts: int
    give_up: GiveUp | None = None
    error: str | None = None
    status: int | None = None
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None


_DEFAULT_BACKOFF = Backoff(first=0.5, cap=30.0)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Attempt and age limits and the backoff between attempts (seconds)."""

    max_attempts: int = 8
    max_age: float = 600.0
    backoff: Backoff = _DEFAULT_BACKOFF

    def next_delay(
        self, failure: Failure, attempts: int, age: float, rng: random.Random
    ) -> float | GiveUp:
        """Seconds to wait before the next attempt, or why to give up now.

        ``attempts`` counts attempts made so far, ``age`` the seconds since submission. A
        ``Retry-After`` replaces the backoff; a wait that would end past ``max_age`` gives up.
        """
        if not failure.retryable:
            return GiveUp.PERMANENT if failure.attempted else GiveUp.MAX_AGE
        if attempts >= self.max_attempts:
            return GiveUp.MAX_ATTEMPTS
        delay = failure.retry_after
        if delay is None:
            delay = self.backoff.delay(attempts, rng)
        if age + delay >= self.max_age:
            return GiveUp.MAX_AGE
        return delay


Attempt = Callable[[float], Awaitable[Failure | None]]
"""One attempt, given the monotonic deadline it must not wait past; ``None`` means success."""
RetryHook = Callable[[Failure, int, float], None]
"""Told about every retry: the failure, the attempts so far and the delay before the next."""


async def deliver(
    attempt: Attempt,
    policy: RetryPolicy,
    *,
    submitted: float,
    rng: random.Random,
    on_retry: RetryHook,
    attempts: int = 0,
    first: datetime | None = None,
) -> DeliveryReport:
    """Run ``attempt`` until it succeeds or ``policy`` gives up; ``submitted`` is the monotonic
    time the action was submitted (its age counts from there). ``attempts`` and ``first`` carry
    on an earlier delivery's count and first attempt time (a parked action's)."""
    deadline = submitted + policy.max_age
    last: datetime | None = None
    while True:
        started = datetime.now(UTC)
        failure = await attempt(deadline)
        if failure is None or failure.attempted:
            attempts += 1
            first, last = first or started, started
        if failure is None:
            return DeliveryReport(
                delivered=True, attempts=attempts, first_attempt_at=first, last_attempt_at=last
            )
        decision = policy.next_delay(failure, attempts, time.monotonic() - submitted, rng)
        if isinstance(decision, GiveUp):
            return DeliveryReport(
                delivered=False,
                attempts=attempts,
                give_up=decision,
                error=failure.error,
                status=failure.status,
                first_attempt_at=first,
                last_attempt_at=last,
            )
        on_retry(failure, attempts, decision)
        await asyncio.sleep(decision)
