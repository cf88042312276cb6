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


async def test_waiters_are_admitted_in_turn_one_per_freed_slot() -> None:
    pacer = Pacer(2)
    first, second = await pacer.acquire(), await pacer.acquire()
    waiting = [asyncio.ensure_future(pacer.acquire()) for _ in range(3)]
    await asyncio.sleep(0)
    pacer.release(first)
    await asyncio.sleep(0)
    assert [w.done() for w in waiting] == [True, False, False]
    late = asyncio.ensure_future(pacer.acquire())  # behind the ones already waiting
    pacer.release(second)
    await asyncio.sleep(0)
    assert [w.done() for w in [*waiting, late]] == [True, True, False, False]
    pacer.cancel()
    pacer.cancel()
    await asyncio.wait_for(asyncio.gather(waiting[2], late), 1)


async def test_a_cancelled_waiter_leaves_the_line_and_gives_back_a_slot_it_was_handed() -> None:
    pacer = Pacer(1)
    held = await pacer.acquire()
    gone = asyncio.ensure_future(pacer.acquire())
    handed = asyncio.ensure_future(pacer.acquire())
    after = asyncio.ensure_future(pacer.acquire())
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    pacer.release(held)  # the slot goes to `handed` ...
    handed.cancel()  # ... which is cancelled before it runs: the slot passes on to `after`
    await asyncio.wait_for(after, 1)
    assert handed.cancelled()
    assert gone.cancelled()
    assert pacer.limit == 1
    waiting = asyncio.ensure_future(pacer.acquire())
    await asyncio.sleep(0.01)
    assert not waiting.done()  # `after` holds the only slot
    pacer.release(after.result())
    await asyncio.wait_for(waiting, 1)


async def test_requests_lined_up_during_a_pause_go_out_when_it_ends() -> None:
    pacer = Pacer(8)
    first = await pacer.acquire()
    pacer.release(first, retry_after=0.1)  # and the limit is cut to 4
    waiting = [asyncio.ensure_future(pacer.acquire()) for _ in range(3)]
    await asyncio.sleep(0.05)
    assert not any(w.done() for w in waiting)
    await asyncio.wait_for(asyncio.gather(*waiting), 2)
