"""One webhook endpoint's gate: a circuit breaker and an in-flight cap, so a dead or slow
endpoint holds up only its own calls. Waiting callers hold no slot and burn no attempt."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import attrs
import httpx

from claimx_worker.http.breaker import Admission, CircuitBreaker, CircuitState

_DEFAULT_PORTS = {"http": 80, "https": 443}


def endpoint_of(url: httpx.URL) -> str:
    """``scheme://host:port`` of a URL (default port filled in): the unit of caps and breakers,
    and safe to log (no user info, path or query)."""
    port = url.port or _DEFAULT_PORTS.get(url.scheme, 0)
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}:{port}"


async def acquire_before(semaphore: asyncio.Semaphore, deadline: float) -> bool:
    """Acquire ``semaphore`` unless the monotonic ``deadline`` passes first (then ``False``)."""
    if not semaphore.locked():  # free: taken at once, no timer needed
        await semaphore.acquire()
        return True
    try:
        async with asyncio.timeout(deadline - time.monotonic()):
            await semaphore.acquire()
    except TimeoutError:
        return False
    return True


@attrs.define
class Verdict:
    """Set by the caller inside a slot: did the endpoint answer (``True``) or fail transiently
    (``False``)? Left ``None`` (e.g. on cancellation) it counts for nothing."""

    healthy: bool | None = None


StateHook = Callable[[str, CircuitState], None]
"""Told an endpoint's new circuit state: ``on_state(endpoint, state)``."""


class EndpointGate:
    """Admits calls to one endpoint: waits while its circuit is open (the half-open probe goes
    first), then for one of ``max_in_flight`` slots. The circuit opens after
    ``failure_threshold`` consecutive failures and lets a probe through ``reset_seconds`` later."""

    def __init__(
        self,
        name: str,
        *,
        max_in_flight: int,
        failure_threshold: int,
        reset_seconds: float,
        on_state: StateHook,
    ) -> None:
        self.name = name
        self._breaker = CircuitBreaker(
            failure_threshold=failure_threshold,
            reset_seconds=reset_seconds,
            on_change=self._state_changed,
        )
        self._semaphore = asyncio.Semaphore(max_in_flight)
        self._on_state = on_state
        self._changed = asyncio.Event()

    def __repr__(self) -> str:
        return f"EndpointGate({self.name!r}, {self._breaker!r})"

    @property
    def state(self) -> CircuitState:
        """The circuit's state."""
        return self._breaker.state

    @contextlib.asynccontextmanager
    async def slot(self, deadline: float) -> AsyncIterator[Verdict | None]:
        """Wait until a call may go out, no later than the monotonic ``deadline``. Yields a
        :class:`Verdict` to fill in, or ``None`` when the deadline passed first."""
        admission = await self._admit(deadline)
        if admission is not None and not await acquire_before(self._semaphore, deadline):
            self._breaker.record(admission, healthy=None)
            admission = None
        if admission is None:
            yield None
            return
        verdict = Verdict()
        try:
            yield verdict
        finally:
            self._semaphore.release()
            self._breaker.record(admission, healthy=verdict.healthy)

    async def _admit(self, deadline: float) -> Admission | None:
        while True:
            admission = self._breaker.admit()
            if admission.wait <= 0:
                return admission
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(admission.wait, remaining)):
                    await changed.wait()

    def _state_changed(self, state: CircuitState) -> None:
        self._on_state(self.name, state)
        self._changed.set()
        self._changed = asyncio.Event()
