"""Circuit breaker state machine for one webhook endpoint (pure: the clock is injected).

Closed: calls flow; ``threshold`` consecutive failures open it. Open: callers wait, not fail,
until ``reset`` seconds passed; then one caller becomes the probe (half-open). The probe's
success closes the circuit; its failure re-opens it for another ``reset``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

import attrs


class BreakerState(enum.StrEnum):
    """Where the circuit stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@attrs.frozen
class Admission:
    """The breaker's answer: call now (``wait == 0``; maybe as the probe) or wait and ask again."""

    wait: float = 0.0
    probe: bool = False


_ADMITTED = Admission()


class CircuitBreaker:
    """Counts consecutive failures; tells callers whether to call now or how long to wait."""

    __slots__ = ("_clock", "_failures", "_opened_at", "_probing", "_reset", "_threshold")

    def __init__(
        self, *, threshold: int, reset: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = threshold
        self._reset = reset
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state.value}, failures={self._failures})"

    @property
    def state(self) -> BreakerState:
        """The current state."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        return BreakerState.HALF_OPEN if self._probing else BreakerState.OPEN

    def admit(self) -> Admission:
        """May the caller call now? In an open circuit past its reset the first caller is
        admitted as the probe; the others are told how long to wait before asking again."""
        if self._opened_at is None:
            return _ADMITTED
        if self._probing:
            return Admission(wait=self._reset)
        remaining = self._opened_at + self._reset - self._clock()
        if remaining > 0:
            return Admission(wait=remaining)
        self._probing = True
        return Admission(probe=True)

    def record(self, admission: Admission, *, healthy: bool | None) -> BreakerState:
        """Report the end of an admitted call and return the new state: ``healthy`` is ``True``
        when the endpoint answered, ``False`` on a transient failure, ``None`` without a verdict
        (the call was cancelled: a probe slot is freed for the next caller)."""
        if admission.probe:
            self._probing = False
        if healthy:
            self._failures = 0
            self._opened_at = None
        elif healthy is False:
            self._failures += 1
            if admission.probe or (self._opened_at is None and self._failures >= self._threshold):
                self._opened_at = self._clock()
        return self.state
