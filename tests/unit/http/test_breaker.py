"""The circuit breaker state machine, on a fake clock."""

from __future__ import annotations

import pytest
from tests.fakes import FakeClock

from claimx_worker.errors import ErrorCategory, TransientError
from claimx_worker.http.breaker import Admission, CircuitBreaker, CircuitOpenError, CircuitState


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(100.0)


@pytest.fixture
def changes() -> list[CircuitState]:
    return []


@pytest.fixture
def breaker(clock: FakeClock, changes: list[CircuitState]) -> CircuitBreaker:
    return CircuitBreaker(
        failure_threshold=3, reset_seconds=10.0, clock=clock, on_change=changes.append
    )


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.record(breaker.admit(), healthy=False)


def opened(breaker: CircuitBreaker) -> None:
    fail(breaker, 3)
    assert breaker.state is CircuitState.OPEN


def reset_passed(breaker: CircuitBreaker, clock: FakeClock) -> None:
    """Open the circuit and let ``reset_seconds`` pass: the next caller probes."""
    opened(breaker)
    clock.now += 10


def test_closed_admits_and_a_success_resets_the_count(
    breaker: CircuitBreaker, changes: list[CircuitState]
) -> None:
    fail(breaker, 2)
    breaker.record(breaker.admit(), healthy=True)
    fail(breaker, 2)
    assert breaker.state is CircuitState.CLOSED
    assert breaker.admit() == Admission()
    assert changes == []


def test_opens_after_threshold_consecutive_failures(
    breaker: CircuitBreaker, changes: list[CircuitState]
) -> None:
    fail(breaker, 2)
    assert breaker.state is CircuitState.CLOSED
    fail(breaker, 1)
    assert breaker.state is CircuitState.OPEN
    assert changes == [CircuitState.OPEN]


def test_open_asks_callers_to_wait_until_the_reset(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    opened(breaker)
    assert breaker.admit() == Admission(wait=10.0)
    clock.now += 4
    assert breaker.admit() == Admission(wait=6.0)


def test_one_probe_after_the_reset_and_the_others_wait(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    reset_passed(breaker, clock)
    assert breaker.admit() == Admission(probe=True)
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.admit() == Admission(wait=10.0)  # only one probe at a time


def test_probe_success_closes(
    breaker: CircuitBreaker, clock: FakeClock, changes: list[CircuitState]
) -> None:
    reset_passed(breaker, clock)
    assert breaker.record(breaker.admit(), healthy=True) is CircuitState.CLOSED
    assert breaker.admit() == Admission()
    assert changes == [CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.CLOSED]


def test_probe_failure_reopens_for_another_reset(
    breaker: CircuitBreaker, clock: FakeClock, changes: list[CircuitState]
) -> None:
    reset_passed(breaker, clock)
    assert breaker.record(breaker.admit(), healthy=False) is CircuitState.OPEN
    assert breaker.admit() == Admission(wait=10.0)
    clock.now += 9
    assert breaker.admit().wait > 0
    clock.now += 1
    assert breaker.admit() == Admission(probe=True)
    assert breaker.state is CircuitState.HALF_OPEN
    assert changes == [CircuitState.OPEN, CircuitState.HALF_OPEN] * 2


def test_a_cancelled_probe_frees_the_probe_slot(breaker: CircuitBreaker, clock: FakeClock) -> None:
    reset_passed(breaker, clock)
    assert breaker.record(breaker.admit(), healthy=None) is CircuitState.OPEN
    assert breaker.admit() == Admission(probe=True)
    assert breaker.state is CircuitState.HALF_OPEN


def test_late_failures_of_calls_admitted_before_opening_do_not_extend_it(
    clock: FakeClock,
) -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_seconds=10.0, clock=clock)
    early = [breaker.admit() for _ in range(3)]
    breaker.record(early[0], healthy=False)
    breaker.record(early[1], healthy=False)
    clock.now += 9
    breaker.record(early[2], healthy=False)
    clock.now += 1
    assert breaker.admit() == Admission(probe=True)


def test_only_the_probe_ends_the_half_open_state(breaker: CircuitBreaker, clock: FakeClock) -> None:
    early = breaker.admit()
    reset_passed(breaker, clock)
    probe = breaker.admit()
    assert breaker.record(early, healthy=False) is CircuitState.HALF_OPEN
    assert breaker.record(probe, healthy=True) is CircuitState.CLOSED


def test_circuit_open_error_is_transient() -> None:
    error = CircuitOpenError("circuit is open", retry_after=6.0)
    assert isinstance(error, TransientError)
    assert (error.category, error.retryable, error.retry_after) == (
        ErrorCategory.TRANSIENT,
        True,
        6.0,
    )
