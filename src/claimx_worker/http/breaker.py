"""The circuit breaker, one per HTTP destination (the ClaimX API, each webhook endpoint).

Closed: calls flow; ``failure_threshold`` consecutive transient failures open it. Open: no call
goes out until ``reset_seconds`` passed (the ClaimX client fails fast with
:class:`CircuitOpenError`, webhook callers wait); then one caller becomes the probe (half-open).
The probe's success closes the circuit; its failure re-opens it for another ``reset_seconds``.
Pure: the clock is injected and nothing here waits.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

import attrs

from claimx_worker.errors import DeferredError


class CircuitState(enum.StrEnum):
    """``closed``: calls flow; ``open``: none go out; ``half_open``: the probe is out."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(DeferredError):
    """A request was not sent: its destination's circuit is open (no attempt is spent)."""


@attrs.frozen
class Admission:
    """The breaker's answer: call now (``wait == 0``; maybe as the probe) or not for ``wait``
    seconds."""

    wait: float = 0.0
    probe: bool = False


_ADMITTED = Admission()


def _ignore(_: CircuitState) -> None:
    pass


class CircuitBreaker:
    """Counts consecutive failures; tells callers whether to call now or how long to wait, and
    ``on_change`` every new state."""

    __slots__ = (
        "_clock",
        "_failures",
        "_on_change",
        "_opened_at",
        "_probing",
        "_reset",
        "_threshold",
    )

    def __init__(
        self,
        *,
        failure_threshold: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[CircuitState], None] = _ignore,
    ) -> None:
        self._threshold = failure_threshold
        self._reset = reset_seconds
        self._clock = clock
        self._on_change = on_change
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state.value}, failures={self._failures})"

    @property
    def state(self) -> CircuitState:
        """The current state."""
        if self._opened_at is None:
            return CircuitState.CLOSED
        return CircuitState.HALF_OPEN if self._probing else CircuitState.OPEN

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
        self._on_change(CircuitState.HALF_OPEN)
        return Admission(probe=True)

    def record(self, admission: Admission, *, healthy: bool | None) -> CircuitState:
        """Report the end of an admitted call and return the new state: ``healthy`` is ``True``
        when the destination answered, ``False`` on a transient failure, ``None`` without a
        verdict (the call was cancelled: a probe slot is freed for the next caller)."""
        before = self.state
        if admission.probe:
            self._probing = False
        if healthy:
            self._failures = 0
            self._opened_at = None
        elif healthy is False:
            self._failures += 1
            if admission.probe or (self._opened_at is None and self._failures >= self._threshold):
                self._opened_at = self._clock()
        after = self.state
        if after is not before:
            self._on_change(after)
        return after
