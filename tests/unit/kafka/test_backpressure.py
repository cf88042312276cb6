"""Backpressure bookkeeping of the fetch loop: room freed while a stall is being declared."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from claimx_worker.kafka import DeliveryProducer, fetching
from claimx_worker.kafka.fetching import Fetcher
from claimx_worker.kafka.in_flight import InFlight
from claimx_worker.kafka.metrics import RuntimeMetrics
from claimx_worker.kafka.partitions import Assignment


class RoomFreedWhileGivingUp(asyncio.Event):
    """An event whose wait, when cancelled by a timeout, lets the accounting settle first: the
    moment at which a finishing event ends the backpressure."""

    def __init__(self, in_flight: InFlight) -> None:
        super().__init__()
        self.in_flight = in_flight

    async def wait(self) -> bool:  # type: ignore[override]
        try:
            return await super().wait()
        except asyncio.CancelledError:
            self.in_flight.backpressure = False  # what settling does when room is freed
            self.set()
            raise


class Consumer:
    """Just enough of an AIOConsumer for the stall path."""

    def __init__(self) -> None:
        self.paused: list[Any] = []

    async def consume(self, *_: Any) -> list[Any]:
        return []

    async def pause(self, partitions: list[Any]) -> None:
        self.paused.extend(partitions)


async def test_room_freed_as_the_wait_times_out_does_not_leave_the_worker_stalled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fetching, "_STALL_SECONDS", 0.01)

    async def nothing_to_route(*_: Any) -> None:
        return None

    async def commit(*_: Any) -> None:
        return None

    metrics = RuntimeMetrics(
        CollectorRegistry(), in_flight=int, uncommitted=int, assigned=int, paused=int
    )
    in_flight = InFlight(
        DeliveryProducer({}),
        max_in_flight=10,
        resume_at=5,
        route_failure=nothing_to_route,
        metrics=metrics,
    )
    assignment = Assignment({})
    fetcher = Fetcher(
        assignment,
        in_flight,
        accept=lambda _: None,
        commit=commit,
        batch_size=10,
        fetch_timeout=0.1,
        commit_interval=5.0,
    )
    in_flight.room = RoomFreedWhileGivingUp(in_flight)
    in_flight.backpressure = True

    await fetcher._fetch_or_wait(Consumer())  # type: ignore[arg-type]

    assert in_flight.backpressure is False
    assert in_flight.stalled is False, "stalled with room to spare: nothing would ever resume"
