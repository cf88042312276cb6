"""A circuit breaker: after consecutive transient failures, fail fast until a trial succeeds."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from claimx_worker.errors import TransientError


class CircuitState(enum.StrEnum):
    """``closed``: requests flow; ``open``: they fail fast; ``half_open``: one trial is out."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(TransientError):
    """The ClaimX API is considered down; the request was not sent."""


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; after ``reset_seconds`` lets one
    trial request through, which closes it on success and re-opens it on failure."""

    def __init__(
        self,
        *,
        failure_threshold: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[CircuitState], None] = lambda _: None,
    ) -> None:
        self._threshold = failure_threshold
        self._reset_seconds = reset_seconds
        self._clock = clock
        self._on_change = on_change
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_out = False

    @property
    def state(self) -> CircuitState:
        """The current state."""
        if self._opened_at is None:
            return CircuitState.CLOSED
        return CircuitState.HALF_OPEN if self._trial_out else CircuitState.OPEN

    def before_request(self) -> None:
        """Raise :class:`CircuitOpenError` unless a request may be sent now."""
        if self._opened_at is None:
            return
        remaining = self._opened_at + self._reset_seconds - self._clock()
        if remaining > 0 or self._trial_out:
            raise CircuitOpenError(
                "ClaimX API circuit is open: failing fast",
                retry_after=max(remaining, 0.0) or self._reset_seconds,
            )
        self._trial_out = True
        self._on_change(CircuitState.HALF_OPEN)

    def after_request(self, *, healthy: bool | None) -> None:
        """Report a request's end: ``True`` the API answered, ``False`` a transient failure,
        ``None`` no verdict (cancelled): a trial slot is released without a state change."""
        was_trial, self._trial_out = self._trial_out, False
        if healthy is None:
            return
        if healthy:
            self._failures = 0
            if self._opened_at is not None:
                self._opened_at = None
                self._on_change(CircuitState.CLOSED)
            return
        self._failures += 1
        if was_trial or (self._opened_at is None and self._failures >= self._threshold):
            self._opened_at = self._clock()
            self._on_change(CircuitState.OPEN)
