"""The circuit breaker state machine, on a fake clock."""

from __future__ import annotations

from tests.fakes import FakeClock

from claimx_worker.actions.breaker import Admission, BreakerState, CircuitBreaker


def _open(clock: FakeClock, threshold: int = 3) -> CircuitBreaker:
    breaker = CircuitBreaker(threshold=threshold, reset=10.0, clock=clock)
    for _ in range(threshold):
        breaker.record(breaker.admit(), healthy=False)
    assert breaker.state is BreakerState.OPEN
    return breaker


def test_closed_admits_and_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(threshold=3, reset=10.0, clock=FakeClock(100.0))
    for _ in range(2):
        breaker.record(breaker.admit(), healthy=False)
    breaker.record(breaker.admit(), healthy=True)
    for _ in range(2):
        breaker.record(breaker.admit(), healthy=False)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.admit() == Admission()


def test_open_asks_callers_to_wait_until_the_reset() -> None:
    clock = FakeClock(100.0)
    breaker = _open(clock)
    assert breaker.admit() == Admission(wait=10.0)
    clock.now += 4
    assert breaker.admit() == Admission(wait=6.0)


def test_one_probe_after_the_reset_and_the_others_wait() -> None:
    clock = FakeClock(100.0)
    breaker = _open(clock)
    clock.now += 10
    probe = breaker.admit()
    assert probe == Admission(probe=True)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.admit().wait > 0


def test_probe_success_closes() -> None:
    clock = FakeClock(100.0)
    breaker = _open(clock)
    clock.now += 10
    assert breaker.record(breaker.admit(), healthy=True) is BreakerState.CLOSED
    assert breaker.admit() == Admission()


def test_probe_failure_reopens_for_another_reset() -> None:
    clock = FakeClock(100.0)
    breaker = _open(clock)
    clock.now += 10
    assert breaker.record(breaker.admit(), healthy=False) is BreakerState.OPEN
    assert breaker.admit() == Admission(wait=10.0)


def test_a_cancelled_probe_frees_the_probe_slot() -> None:
    clock = FakeClock(100.0)
    breaker = _open(clock)
    clock.now += 10
    assert breaker.record(breaker.admit(), healthy=None) is BreakerState.OPEN
    assert breaker.admit() == Admission(probe=True)


def test_late_failures_of_calls_admitted_before_opening_do_not_extend_it() -> None:
    clock = FakeClock(100.0)
    breaker = CircuitBreaker(threshold=2, reset=10.0, clock=clock)
    early = [breaker.admit() for _ in range(3)]
    breaker.record(early[0], healthy=False)
    breaker.record(early[1], healthy=False)
    clock.now += 9
    breaker.record(early[2], healthy=False)
    clock.now += 1
    assert breaker.admit() == Admission(probe=True)
