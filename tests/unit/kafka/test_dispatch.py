"""Key-ordered dispatch: per-key order, cross-key concurrency, eager start, cancellation."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from typing import Any

import pytest

from claimx_worker.kafka.dispatch import KeyedDispatcher, resume

Job = tuple[bytes | None, int, float]


class Recorder:
    """Runs jobs ``(key, index, delay)`` and records their starts and ends."""

    def __init__(self) -> None:
        self.starts: list[tuple[bytes | None, int]] = []
        self.ends: list[tuple[bytes | None, int]] = []
        self.running: dict[bytes | None, int] = {}
        self.max_running_per_key = 0
        self.max_running = 0
        self.dispatcher: KeyedDispatcher[Job] = KeyedDispatcher(self.start)
        self.expected = 0
        self.all_ended = asyncio.Event()

    def start(self, job: Job) -> Coroutine[Any, Any, None] | None:
        coro = self.run(job)
        try:
            awaited = coro.send(None)
        except StopIteration:
            return None
        return self.finish(coro, awaited)

    @staticmethod
    async def finish(coro: Coroutine[Any, Any, None], awaited: Any) -> None:
        """The rest, as a native coroutine (the runtime's ``_finish_event``): from Python 3.12
        on, ``asyncio.create_task`` takes no generator-based coroutine such as ``resume()``."""
        await resume(coro, awaited)

    async def run(self, job: Job) -> None:
        key, index, delay = job
        self.running[key] = self.running.get(key, 0) + 1
        if key is not None:
            self.max_running_per_key = max(self.max_running_per_key, self.running[key])
        self.max_running = max(self.max_running, sum(self.running.values()))
        self.starts.append((key, index))
        if delay:
            await asyncio.sleep(delay)
        self.running[key] -= 1
        self.ends.append((key, index))
        if len(self.ends) == self.expected:
            self.all_ended.set()

    def submit(self, job: Job) -> None:
        self.expected += 1
        self.dispatcher.submit(job[0], job)

    async def wait(self) -> None:
        if len(self.ends) < self.expected:
            await asyncio.wait_for(self.all_ended.wait(), 10)
        await asyncio.sleep(0)  # let the key tasks end


async def test_same_key_runs_one_at_a_time_in_order_while_keys_overlap() -> None:
    recorder = Recorder()
    rng = random.Random(7)
    keys = [f"project-{n}".encode() for n in range(5)]
    jobs = [(rng.choice(keys), index, rng.random() / 200) for index in range(200)]
    for job in jobs:
        recorder.submit(job)
    await recorder.wait()
    assert sorted(recorder.ends) == sorted((key, index) for key, index, _ in jobs)
    for key in keys:
        indexes = [index for k, index in recorder.starts if k == key]
        assert indexes == sorted(indexes)
        assert [i for k, i in recorder.ends if k == key] == indexes
    assert recorder.max_running_per_key == 1
    assert recorder.max_running > 1


async def test_keyless_jobs_have_no_order_constraint() -> None:
    recorder = Recorder()
    recorder.submit((None, 0, 0.02))
    recorder.submit((None, 1, 0.0))
    await recorder.wait()
    assert recorder.ends == [(None, 1), (None, 0)]
    assert recorder.max_running == 2
    assert len(recorder.dispatcher) == 0


async def test_a_job_that_never_suspends_completes_inside_submit_without_a_task() -> None:
    recorder = Recorder()
    recorder.submit((b"k", 0, 0.0))
    assert recorder.ends == [(b"k", 0)]
    assert len(recorder.dispatcher) == 0
    recorder.submit((b"k", 1, 0.0))  # the key is idle again: runs at once too
    assert recorder.ends == [(b"k", 0), (b"k", 1)]


async def test_jobs_queued_behind_a_suspended_job_run_after_it() -> None:
    recorder = Recorder()
    recorder.submit((b"k", 0, 0.01))
    recorder.submit((b"k", 1, 0.0))
    recorder.submit((b"other", 2, 0.0))
    assert recorder.ends == [(b"other", 2)]
    assert len(recorder.dispatcher) == 1
    await recorder.wait()
    assert recorder.ends == [(b"other", 2), (b"k", 0), (b"k", 1)]


async def test_resume_passes_results_and_exceptions_through() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def job() -> int:
        value = await future
        if value < 0:
            raise ValueError("negative")
        return value * 2

    coro = job()
    awaited = coro.send(None)
    task = asyncio.ensure_future(resume(coro, awaited))
    future.set_result(21)
    assert await task == 42

    failing: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def job2() -> int:
        return await failing

    coro2 = job2()
    task2 = asyncio.ensure_future(resume(coro2, coro2.send(None)))
    failing.set_exception(ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        await task2


async def test_cancel_stops_suspended_jobs_and_drops_queued_ones() -> None:
    recorder = Recorder()
    recorder.submit((b"k", 0, 10.0))
    recorder.submit((b"k", 1, 0.0))
    await asyncio.sleep(0)
    await recorder.dispatcher.cancel()
    assert recorder.starts == [(b"k", 0)]
    assert recorder.ends == []
    assert len(recorder.dispatcher) == 0
