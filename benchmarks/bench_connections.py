"""Webhooks/s through a named connection with OAuth2 client credentials, against the same
webhooks sent to a plain URL (``actions_webhook``'s set-up: httpx over aiohttp, 2,000 webhooks
submitted at once, a receiver in a child process).

``oauth2_webhook``: webhooks/s through the connection (token fetched once from the receiver's
token endpoint, then reused; no rate limit; 256 in flight, as ``endpoint_max_in_flight``);
``baseline``: ``actions_webhook`` measured in the same run; ``ratio`` (target: at least 0.9).
Each figure is the best of ``ROUNDS`` alternating runs (the machine is shared).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport
from loguru import logger
from prometheus_client import CollectorRegistry

from bench_actions import ACTIONS, LIMITS
from claimx_worker.actions import ActionExecutor, ActionSettings, OutcomeStatus
from claimx_worker.http.connections import Connection, load_connections
from claimx_worker.model import Webhook

ROUNDS = 3
IN_FLIGHT = 256
RECEIVER = """
import asyncio, socket
from aiohttp import web

async def fast(request):
    await request.read()
    if request.path.startswith("/crm") and request.headers.get("Authorization") != "Bearer tok":
        return web.Response(status=401)
    return web.Response()

async def token(request):
    await request.post()
    return web.json_response({"access_token": "tok", "expires_in": 3600})

async def main():
    app = web.Application()
    app.router.add_post("/fast", fast)
    app.router.add_post("/crm/fast", fast)
    app.router.add_post("/token", token)
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
    raise RuntimeError(f"unexpected dead letter to {topic}: {value[:300]!r}")


def crm_connection(base: str) -> dict[str, Connection]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "connections"
        directory.mkdir()
        (directory / "crm.yaml").write_text(
            f"base_url: {base}/crm\n"
            "auth:\n"
            "  type: oauth2\n"
            f"  token_url: {base}/token\n"
            "  client_id: bench\n"
            "  client_secret: ${CRM_CLIENT_SECRET}\n"
            f"max_in_flight: {IN_FLIGHT}\n"
        )
        catalog = load_connections(Path(tmp), env={"CRM_CLIENT_SECRET": "bench-secret"})
    assert not catalog.problems, catalog.problems
    return dict(catalog.connections)


async def _run(client: httpx.AsyncClient, base: str, *, through_connection: bool) -> float:
    """Deliver ACTIONS webhooks; webhooks/s."""
    executor = ActionExecutor(
        ActionSettings(endpoint_max_in_flight=IN_FLIGHT),
        client=client,
        produce=_no_dead_letters,
        registry=CollectorRegistry(),
        connections=crm_connection(base) if through_connection else None,
    )
    body = {"trigger": "bench", "task_id": 456, "project_id": "12345"}

    def webhook() -> Webhook:
        if through_connection:
            return Webhook(url="/fast", body=body, timeout=0, connection="crm")
        return Webhook(url=f"{base}/fast", body=body)

    wall = time.perf_counter()
    futures = [executor.submit(f"evt-{n}", "1", "bench", 0, webhook()) for n in range(ACTIONS)]
    outcomes = await asyncio.gather(*futures)
    wall = time.perf_counter() - wall
    await executor.aclose()
    lost = sum(o.status is not OutcomeStatus.DELIVERED for o in outcomes)
    if lost:
        raise SystemExit(f"{lost} webhooks not delivered")
    return ACTIONS / wall


async def main() -> list[dict[str, Any]]:
    receiver = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RECEIVER,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert receiver.stdout is not None
        base = f"http://127.0.0.1:{int(await receiver.stdout.readline())}"
        plain, oauth2 = [], []
        async with httpx.AsyncClient(transport=AiohttpTransport(limits=LIMITS)) as client:
            await _run(client, base, through_connection=False)  # warm-up
            await _run(client, base, through_connection=True)
            for _ in range(ROUNDS):
                plain.append(await _run(client, base, through_connection=False))
                oauth2.append(await _run(client, base, through_connection=True))
    finally:
        receiver.terminate()
        await receiver.wait()
    rate, baseline = max(oauth2), max(plain)
    return [
        {
            "name": "oauth2_webhook",
            "value": round(rate, 1),
            "unit": "webhooks/s",
            "baseline": round(baseline, 1),
            "baseline_name": "actions_webhook",
            "ratio": round(rate / baseline, 3),
            "target_ratio": 0.9,
            "rounds": ROUNDS,
        }
    ]


if __name__ == "__main__":
    logger.remove()
    print(json.dumps(asyncio.run(main()), indent=2))
