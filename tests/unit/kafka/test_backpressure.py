"""Backpressure bookkeeping of the runtime: room freed while a stall is being declared."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from claimx_worker.kafka import KafkaRuntime, Processor, runtime
from claimx_worker.kafka.settings import KafkaSettings


class RoomFreedWhileGivingUp(asyncio.Event):
    """An event whose wait, when cancelled by a timeout, lets the runtime settle first: the
    moment at which a finishing event ends the backpressure."""

    def __init__(self, owner: KafkaRuntime[Any]) -> None:
        super().__init__()
        self.owner = owner

    async def wait(self) -> bool:  # type: ignore[override]
        try:
            return await super().wait()
        except asyncio.CancelledError:
            self.owner._backpressure = False  # what _settle() does when room is freed
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
    monkeypatch.setattr(runtime, "_STALL_SECONDS", 0.01)

    async def process(item: bytes, ctx: Any) -> None:
        return None

    worker = KafkaRuntime(
        KafkaSettings(), Processor(decode=bytes, process=process), registry=CollectorRegistry()
    )
    worker._room = RoomFreedWhileGivingUp(worker)
    worker._backpressure = True

    await worker._fetch_or_wait(Consumer())  # type: ignore[arg-type]

    assert worker._backpressure is False
    assert worker._stalled is False, "stalled with room to spare: nothing would ever resume"
