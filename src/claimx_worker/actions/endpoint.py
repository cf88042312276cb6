"""One webhook endpoint's gate: a circuit breaker and an in-flight cap, so a dead or slow
endpoint holds up only its own calls. Waiting callers hold no slot and burn no attempt."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import attrs
import httpx

from claimx_worker.actions.breaker import Admission, BreakerState, CircuitBreaker

_DEFAULT_PORTS = {"http": 80, "https": 443}


def endpoint_of(url: httpx.URL) -> str:
    """``scheme://host:port`` of a URL (default port filled in): the unit of caps and breakers,
    and safe to log (no user info, path or query)."""
    port = url.port or _DEFAULT_PORTS.get(url.scheme, 0)
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}:{port}"


async def acquire_before(semaphore: asyncio.Semaphore, deadline: float) -> bool:
    """Acquire ``semaphore`` unless the monotonic ``deadline`` passes first (then ``False``)."""
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


StateHook = Callable[[str, BreakerState], None]


class EndpointGate:
    """Admits calls to one endpoint: waits while its circuit is open (the half-open probe goes
    first), then for one of ``max_in_flight`` slots."""

    def __init__(
        self, name: str, *, max_in_flight: int, breaker: CircuitBreaker, on_state: StateHook
    ) -> None:
        self.name = name
        self._breaker = breaker
        self._semaphore = asyncio.Semaphore(max_in_flight)
        self._on_state = on_state
        self._state = breaker.state
        self._changed = asyncio.Event()

    def __repr__(self) -> str:
        return f"EndpointGate({self.name!r}, {self._breaker!r})"

    @property
    def state(self) -> BreakerState:
        """The circuit's state."""
        return self._state

    @contextlib.asynccontextmanager
    async def slot(self, deadline: float) -> AsyncIterator[Verdict | None]:
        """Wait until a call may go out, no later than the monotonic ``deadline``. Yields a
        :class:`Verdict` to fill in, or ``None`` when the deadline passed first."""
        admission = await self._admit(deadline)
        if admission is not None and not await acquire_before(self._semaphore, deadline):
            self._record(admission, None)
            admission = None
        if admission is None:
            yield None
            return
        verdict = Verdict()
        try:
            yield verdict
        finally:
            self._semaphore.release()
            self._record(admission, verdict.healthy)

    async def _admit(self, deadline: float) -> Admission | None:
        while True:
            admission = self._breaker.admit()
            self._publish()
            if admission.wait <= 0:
                return admission
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(admission.wait, remaining)):
                    await changed.wait()

    def _record(self, admission: Admission, healthy: bool | None) -> None:
        self._breaker.record(admission, healthy=healthy)
        self._publish()

    def _publish(self) -> None:
        state = self._breaker.state
        if state is self._state:
            return
        self._state = state
        self._on_state(self.name, state)
        self._changed.set()
        self._changed = asyncio.Event()
