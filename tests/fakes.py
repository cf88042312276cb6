"""Fakes shared by the tests."""

from __future__ import annotations


class FakeClock:
    """A clock that stands still until the test moves ``now``; pass it where a module takes
    ``clock: Callable[[], float]`` (``time.monotonic`` in production)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
