"""Action executor throughput: webhooks delivered per second to a local receiver.

The receiver (aiohttp, answering 200 at once on ``/fast`` and after 2 s on ``/slow``) runs in a
child process so it does not share this process's event loop or CPU accounting. Each run submits
webhooks (JSON body, idempotency key) at once and waits for every outcome; a warm-up run first.

Prints one JSON list (extra key ``cpu_us_per_action``: this process's CPU time per webhook):
- ``actions_webhook``: webhooks/s through the worker's webhook exchange (aiohttp driven
  directly, :func:`~claimx_worker.http.exchange.webhook_exchange`),
- ``actions_webhook_native``: the same through an ``httpx.AsyncClient`` with httpx's own
  transport (fewer actions: it is much slower under concurrency); ``baseline``:
  ``actions_webhook``; ``ratio``,
- ``actions_webhook_beside_slow``: the webhook exchange, fast webhooks/s while ``SLOW`` calls to
  the 2 s endpoint are in flight; ``baseline``: ``actions_webhook``; ``ratio``; ``lost``: fast
  actions not delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker.actions import ActionExecutor, ActionSettings, OutcomeStatus
from claimx_worker.http.exchange import Exchange, HttpxExchange, webhook_exchange
from claimx_worker.model import Webhook

ACTIONS = 2000
NATIVE_ACTIONS = 200
SLOW = 200
LIMITS = httpx.Limits(max_connections=400, max_keepalive_connections=400)

RECEIVER = """
import asyncio, socket, sys
from aiohttp import web

async def fast(request):
    await request.read()
    return web.Response()

async def slow(request):
    await request.read()
    await asyncio.sleep(2.0)
    return web.Response()

async def main():
    app = web.Application()
    app.router.add_post("/fast", fast)
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock, backlog=1024).start()
    print(sock.getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def _no_dead_letters(topic: str, value: bytes, key: bytes | None, headers: Any) -> None:
    raise RuntimeError(f"unexpected dead letter to {topic}")


async def _run(
    client: Exchange, base: str, *, actions: int = ACTIONS, slow: int = 0
) -> tuple[float, float, int]:
    """Deliver ``actions`` fast webhooks (beside ``slow`` slow ones); return webhooks/s, CPU us
    per action and how many fast ones were not delivered."""
    executor = ActionExecutor(
        ActionSettings(endpoint_max_in_flight=256),
        client=client,
        produce=_no_dead_letters,
        registry=CollectorRegistry(),
    )
    body = {"trigger": "bench", "task_id": 456, "project_id": "12345"}
    slow_futures = [
        executor.submit(f"slow-{n}", "1", "bench", 0, Webhook(url=f"{base}/slow", body=body))
        for n in range(slow)
    ]
    if slow:
        await asyncio.sleep(0.2)  # let the slow calls get in flight
    cpu, wall = time.process_time(), time.perf_counter()
    fast = [
        executor.submit(f"evt-{n}", "1", "bench", 0, Webhook(url=f"{base}/fast", body=body))
        for n in range(actions)
    ]
    outcomes = await asyncio.gather(*fast)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    lost = sum(o.status is not OutcomeStatus.DELIVERED for o in outcomes)
    await asyncio.gather(*slow_futures)
    await executor.aclose()
    return actions / wall, cpu / actions * 1e6, lost


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[str]:
    """The receiver in a child process, for as long as the block runs; yields its base URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RECEIVER,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        yield f"http://127.0.0.1:{int(await process.stdout.readline())}"
    finally:
        process.terminate()
        await process.wait()


async def main() -> list[dict[str, Any]]:
    """Run the three measurements against a receiver in a child process."""
    async with receiver() as base:
        async with webhook_exchange(allowed_destinations=()) as aio:
            await _run(aio, base)  # warm-up: connections, code paths
            rate, cpu, _ = await _run(aio, base)
            beside_rate, beside_cpu, lost = await _run(aio, base, slow=SLOW)
        async with HttpxExchange(httpx.AsyncClient(limits=LIMITS)) as native:
            await _run(native, base, actions=NATIVE_ACTIONS)
            native_rate, native_cpu, _ = await _run(native, base, actions=NATIVE_ACTIONS)
    return [
        {
            "name": "actions_webhook",
            "value": round(rate, 1),
            "unit": "webhooks/s",
            "cpu_us_per_action": round(cpu, 1),
        },
        {
            "name": "actions_webhook_native",
            "value": round(native_rate, 1),
            "unit": "webhooks/s",
            "cpu_us_per_action": round(native_cpu, 1),
            "baseline": round(rate, 1),
            "ratio": round(native_rate / rate, 3),
        },
        {
            "name": "actions_webhook_beside_slow",
            "value": round(beside_rate, 1),
            "unit": "webhooks/s",
            "cpu_us_per_action": round(beside_cpu, 1),
            "slow_in_flight": SLOW,
            "baseline": round(rate, 1),
            "ratio": round(beside_rate / rate, 3),
            "lost": lost,
        },
    ]


if __name__ == "__main__":
    logger.remove()
    print(json.dumps(asyncio.run(main()), indent=2))
