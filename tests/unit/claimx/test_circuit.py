"""The circuit breaker opens after consecutive failures, fails fast, and recovers via a trial."""

from __future__ import annotations

import pytest
from tests.fakes import FakeClock

from claimx_worker.claimx.circuit import CircuitBreaker, CircuitOpenError, CircuitState


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def changes() -> list[CircuitState]:
    return []


@pytest.fixture
def breaker(clock: FakeClock, changes: list[CircuitState]) -> CircuitBreaker:
    return CircuitBreaker(
        failure_threshold=3, reset_seconds=10, clock=clock, on_change=changes.append
    )


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.before_request()
        breaker.after_request(healthy=False)


def test_opens_after_threshold_consecutive_failures(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    breaker.before_request()
    breaker.after_request(healthy=True)  # resets the count
    fail(breaker, 2)
    assert breaker.state is CircuitState.CLOSED
    fail(breaker, 1)
    assert breaker.state is CircuitState.OPEN


def test_open_circuit_fails_fast_with_retry_after(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.now = 4
    with pytest.raises(CircuitOpenError) as caught:
        breaker.before_request()
    assert caught.value.retryable
    assert caught.value.retry_after == pytest.approx(6)


def test_one_trial_after_reset_time_closes_on_success(
    breaker: CircuitBreaker, clock: FakeClock, changes: list[CircuitState]
) -> None:
    fail(breaker, 3)
    clock.now = 10
    breaker.before_request()  # the trial
    assert breaker.state is CircuitState.HALF_OPEN
    with pytest.raises(CircuitOpenError):
        breaker.before_request()  # only one trial at a time
    breaker.after_request(healthy=True)
    assert breaker.state is CircuitState.CLOSED
    breaker.before_request()
    assert changes == [CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.CLOSED]


def test_failed_trial_reopens_for_another_period(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    clock.now = 10
    fail(breaker, 1)
    assert breaker.state is CircuitState.OPEN
    clock.now = 19
    with pytest.raises(CircuitOpenError):
        breaker.before_request()
    clock.now = 20
    breaker.before_request()
    assert breaker.state is CircuitState.HALF_OPEN


def test_cancelled_trial_releases_the_slot(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    clock.now = 10
    breaker.before_request()
    breaker.after_request(healthy=None)
    assert breaker.state is CircuitState.OPEN
    breaker.before_request()  # a new trial may go
    assert breaker.state is CircuitState.HALF_OPEN
