"""The pacer: AIMD in-flight limit and the client-wide pause after a 429."""

from __future__ import annotations

import asyncio

from tests.fakes import FakeClock

from claimx_worker.http.pacing import Pacer


async def test_the_limit_halves_once_per_round_of_429s_and_grows_back_by_one_per_round() -> None:
    clock = FakeClock()
    limits: list[float] = []
    pacer = Pacer(8, clock=clock, on_limit=limits.append)
    admitted = [await pacer.acquire() for _ in range(4)]
    clock.now = 1.0
    assert pacer.release(admitted[0], retry_after=0.0)  # cut: 8 -> 4
    assert not pacer.release(admitted[1], retry_after=0.0)  # same round: no second cut
    assert pacer.limit == 4
    later = await pacer.acquire()  # sent after the cut: its 429 cuts again
    assert pacer.release(later, retry_after=0.0)
    assert pacer.limit == 2
    for when in admitted[2:]:
        pacer.release(when)
    assert pacer.limit == 2  # 2 + 1/2 + 1/2.5 = 2.9
    pacer.release(await pacer.acquire())
    assert pacer.limit == 3  # + 1/2.9
    assert limits[0] == 8
    assert min(limits) == 2


async def test_the_limit_never_drops_below_one_nor_grows_past_the_maximum() -> None:
    clock = FakeClock()
    pacer = Pacer(2, clock=clock)
    for _ in range(5):
        clock.now += 1
        pacer.release(await pacer.acquire(), retry_after=0.0)
    assert pacer.limit == 1
    for _ in range(10):
        pacer.release(await pacer.acquire())
    assert pacer.limit == 2


async def test_a_429_pauses_every_request_for_its_retry_after() -> None:
    pacer = Pacer(4)
    first = await pacer.acquire()
    pacer.release(first, retry_after=0.2)
    assert 0.1 < pacer.paused_for <= 0.2
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(pacer.acquire(), 2)
    assert loop.time() - started >= 0.15


async def test_requests_wait_for_room_under_the_limit() -> None:
    pacer = Pacer(1)
    first = await pacer.acquire()
    waiting = asyncio.ensure_future(pacer.acquire())
    await asyncio.sleep(0.02)
    assert not waiting.done()
    pacer.cancel()  # the first got no answer: its slot is free
    await asyncio.wait_for(waiting, 1)
    assert first <= waiting.result()
