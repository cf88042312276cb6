"""Single-flight cache: one load per key at a time, short reuse, failures never cached."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from tests.fakes import FakeClock

from claimx_worker.claimx.singleflight import SingleFlightCache


class Loader:
    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.fail_with: Exception | None = None

    async def __call__(self) -> dict[str, int]:
        self.calls += 1
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return {"call": self.calls}


async def test_concurrent_callers_share_one_load_and_all_get_the_value() -> None:
    cache: SingleFlightCache[str, dict[str, int]] = SingleFlightCache(ttl_seconds=5)
    loader = Loader()
    waiters = [asyncio.create_task(cache.get("p", loader)) for _ in range(50)]
    await asyncio.sleep(0)
    loader.release.set()
    results = await asyncio.gather(*waiters)
    assert loader.calls == 1
    assert all(result == {"call": 1} for result in results)


async def test_cached_value_is_returned_until_it_expires() -> None:
    clock = FakeClock()
    cache: SingleFlightCache[str, dict[str, int]] = SingleFlightCache(ttl_seconds=5, clock=clock)
    loader = Loader()
    loader.release.set()
    assert await cache.get("p", loader) == {"call": 1}
    clock.now = 4.9
    assert await cache.get("p", loader) == {"call": 1}
    assert await cache.get("p", loader, fresh=True) == {"call": 2}
    clock.now = 4.9 + 5
    assert await cache.get("p", loader) == {"call": 3}
    assert loader.calls == 3


async def test_zero_ttl_caches_nothing() -> None:
    cache: SingleFlightCache[str, dict[str, int]] = SingleFlightCache(ttl_seconds=0)
    loader = Loader()
    loader.release.set()
    await cache.get("p", loader)
    await cache.get("p", loader)
    assert loader.calls == 2


async def test_failure_reaches_every_waiter_and_is_not_cached() -> None:
    cache: SingleFlightCache[str, dict[str, int]] = SingleFlightCache(ttl_seconds=5)
    loader = Loader()
    loader.fail_with = RuntimeError("down")
    waiters = [asyncio.create_task(cache.get("p", loader)) for _ in range(3)]
    await asyncio.sleep(0)
    loader.release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    loader.fail_with = None
    assert await cache.get("p", loader) == {"call": 2}


async def test_cancelling_one_waiter_does_not_cancel_the_shared_load() -> None:
    cache: SingleFlightCache[str, dict[str, int]] = SingleFlightCache(ttl_seconds=5)
    loader = Loader()
    first = asyncio.create_task(cache.get("p", loader))
    second = asyncio.create_task(cache.get("p", loader))
    await asyncio.sleep(0)
    first.cancel()
    loader.release.set()
    assert await second == {"call": 1}
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_size_is_bounded() -> None:
    cache: SingleFlightCache[int, int] = SingleFlightCache(ttl_seconds=60, max_entries=3)
    loads: list[int] = []

    def loader(key: int) -> Callable[[], Awaitable[int]]:
        async def load() -> int:
            loads.append(key)
            return key

        return load

    for key in range(5):
        await cache.get(key, loader(key))
    await cache.get(4, loader(4))
    await cache.get(0, loader(0))
    assert loads == [0, 1, 2, 3, 4, 0]
