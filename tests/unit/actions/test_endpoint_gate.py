"""The endpoint gate: in-flight cap, waiting (not failing) while the circuit is open."""

from __future__ import annotations

import asyncio
import time

from claimx_worker.actions.endpoint import EndpointGate, acquire_before
from claimx_worker.http.breaker import CircuitState


def _gate(
    *, max_in_flight: int = 10, threshold: int = 2, reset: float = 0.2
) -> tuple[EndpointGate, list[CircuitState]]:
    states: list[CircuitState] = []
    gate = EndpointGate(
        "http://h:80",
        max_in_flight=max_in_flight,
        failure_threshold=threshold,
        reset_seconds=reset,
        on_state=lambda _, state: states.append(state),
    )
    return gate, states


async def _fail(gate: EndpointGate, deadline: float) -> None:
    async with gate.slot(deadline) as verdict:
        assert verdict is not None
        verdict.healthy = False


async def test_in_flight_cap() -> None:
    gate, _ = _gate(max_in_flight=2)
    inside = peak = 0

    async def call() -> None:
        nonlocal inside, peak
        async with gate.slot(time.monotonic() + 5) as verdict:
            assert verdict is not None
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.02)
            inside -= 1
            verdict.healthy = True

    await asyncio.gather(*(call() for _ in range(7)))
    assert peak == 2


async def test_open_circuit_waits_for_one_probe_then_lets_everyone_through() -> None:
    gate, states = _gate(threshold=2, reset=0.2)
    deadline = time.monotonic() + 5
    await _fail(gate, deadline)
    await _fail(gate, deadline)
    assert gate.state is CircuitState.OPEN
    opened = time.monotonic()
    order: list[str] = []
    probe_entered = asyncio.Event()
    probe_release = asyncio.Event()

    async def call(name: str) -> None:
        async with gate.slot(deadline) as verdict:
            assert verdict is not None
            order.append(name)
            if len(order) == 1:  # the probe: nobody else may start before it ends
                probe_entered.set()
                await probe_release.wait()
            verdict.healthy = True

    calls = [asyncio.create_task(call(f"c{i}")) for i in range(5)]
    await probe_entered.wait()
    assert time.monotonic() - opened >= 0.19  # waited for the reset, not failed fast
    assert states[-1] is CircuitState.HALF_OPEN
    await asyncio.sleep(0.1)
    assert len(order) == 1
    probe_release.set()
    await asyncio.gather(*calls)
    assert len(order) == 5
    assert states == [CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.CLOSED]


async def test_a_failed_probe_reopens_and_waiters_keep_waiting() -> None:
    gate, states = _gate(threshold=1, reset=0.1)
    deadline = time.monotonic() + 5
    await _fail(gate, deadline)
    await _fail(gate, deadline)  # the probe, after the reset
    assert states == [CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.OPEN]


async def test_the_deadline_ends_the_wait_without_a_slot() -> None:
    gate, _ = _gate(threshold=1, reset=60)
    await _fail(gate, time.monotonic() + 5)
    started = time.monotonic()
    async with gate.slot(started + 0.1) as verdict:
        assert verdict is None
    assert 0.09 <= time.monotonic() - started < 1


async def test_the_deadline_also_bounds_the_wait_for_a_slot() -> None:
    gate, _ = _gate(max_in_flight=1)
    hold = asyncio.Event()

    async def holder() -> None:
        async with gate.slot(time.monotonic() + 5) as verdict:
            assert verdict is not None
            await hold.wait()

    task = asyncio.create_task(holder())
    await asyncio.sleep(0.01)
    async with gate.slot(time.monotonic() + 0.05) as verdict:
        assert verdict is None
    hold.set()
    await task


async def test_a_cancelled_probe_lets_the_next_caller_probe() -> None:
    gate, _ = _gate(threshold=1, reset=0.05)
    deadline = time.monotonic() + 5
    await _fail(gate, deadline)
    entered = asyncio.Event()

    async def stuck_probe() -> None:
        async with gate.slot(deadline) as verdict:
            assert verdict is not None
            entered.set()
            await asyncio.sleep(60)

    probe = asyncio.create_task(stuck_probe())
    await entered.wait()
    probe.cancel()
    async with gate.slot(deadline) as verdict:
        assert verdict is not None
        verdict.healthy = True
    assert gate.state is CircuitState.CLOSED


async def test_a_free_slot_is_taken_at_once_even_past_the_deadline() -> None:
    """Only a wait is bounded by the deadline: a free slot is never refused."""
    semaphore = asyncio.Semaphore(1)
    assert await acquire_before(semaphore, time.monotonic() - 1)
    assert semaphore.locked()
    assert not await acquire_before(semaphore, time.monotonic() + 0.05)
    semaphore.release()
    assert not semaphore.locked()
