"""Webhooks/s through a named connection with OAuth2 client credentials, against the same
webhooks sent to a plain URL (``actions_webhook``'s set-up and receiver: the aiohttp exchange,
2,000 webhooks submitted at once, the receiver in a child process; the token endpoint runs in
this process and is asked once per run).

``oauth2_webhook``: webhooks/s through the connection (token fetched once from the receiver's
token endpoint, then reused; no rate limit; 256 in flight, as ``endpoint_max_in_flight``);
``baseline``: ``actions_webhook`` measured in the same run; ``ratio`` (target: at least 0.9).
``cpu_us_per_action`` / ``baseline_cpu_us_per_action``: this process's CPU time per webhook
through the connection / to the plain URL (steadier than the rates on a shared machine).
Each figure is the best of ``ROUNDS`` alternating runs (the machine is shared).
"""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from loguru import logger
from prometheus_client import CollectorRegistry

from bench_actions import ACTIONS, receiver
from claimx_worker.actions import ActionExecutor, ActionSettings, OutcomeStatus
from claimx_worker.http.connections import Connection, load_connections
from claimx_worker.http.exchange import Exchange, webhook_exchange
from claimx_worker.model import Webhook

ROUNDS = 3
IN_FLIGHT = 256


async def token_endpoint() -> tuple[web.AppRunner, str]:
    """An OAuth2 token endpoint in this process (asked once per run: it costs nothing here)."""

    async def token(request: web.Request) -> web.Response:
        await request.post()
        return web.json_response({"access_token": "tok", "expires_in": 3600})

    app = web.Application()
    app.router.add_post("/token", token)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    return runner, f"http://127.0.0.1:{sock.getsockname()[1]}/token"


async def _no_dead_letters(topic: str, value: bytes, key: bytes | None, headers: Any) -> None:
    raise RuntimeError(f"unexpected dead letter to {topic}: {value[:300]!r}")


def crm_connection(base: str, token_url: str) -> dict[str, Connection]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "connections"
        directory.mkdir()
        (directory / "crm.yaml").write_text(
            f"base_url: {base}\n"
            "auth:\n"
            "  type: oauth2\n"
            f"  token_url: {token_url}\n"
            "  client_id: bench\n"
            "  client_secret: ${CRM_CLIENT_SECRET}\n"
            f"max_in_flight: {IN_FLIGHT}\n"
        )
        catalog = load_connections(Path(tmp), env={"CRM_CLIENT_SECRET": "bench-secret"})
    assert not catalog.problems, catalog.problems
    return dict(catalog.connections)


async def _run(client: Exchange, base: str, *, token_url: str | None) -> tuple[float, float]:
    """Deliver ACTIONS webhooks (through the OAuth2 connection when ``token_url`` is given);
    webhooks/s and CPU us per webhook."""
    through_connection = token_url is not None
    executor = ActionExecutor(
        ActionSettings(endpoint_max_in_flight=IN_FLIGHT),
        client=client,
        produce=_no_dead_letters,
        registry=CollectorRegistry(),
        connections=None if token_url is None else crm_connection(base, token_url),
    )
    body = {"trigger": "bench", "task_id": 456, "project_id": "12345"}

    def webhook() -> Webhook:
        if through_connection:
            return Webhook(url="/fast", body=body, timeout=0, connection="crm")
        return Webhook(url=f"{base}/fast", body=body)

    cpu, wall = time.process_time(), time.perf_counter()
    futures = [executor.submit(f"evt-{n}", "1", "bench", 0, webhook()) for n in range(ACTIONS)]
    outcomes = await asyncio.gather(*futures)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await executor.aclose()
    lost = sum(o.status is not OutcomeStatus.DELIVERED for o in outcomes)
    if lost:
        raise SystemExit(f"{lost} webhooks not delivered")
    return ACTIONS / wall, cpu / ACTIONS * 1e6


async def main() -> list[dict[str, Any]]:
    async with receiver() as base:
        tokens, token_url = await token_endpoint()
        plain, oauth2 = [], []
        async with webhook_exchange(allowed_destinations=()) as client:
            await _run(client, base, token_url=None)  # warm-up
            await _run(client, base, token_url=token_url)
            for _ in range(ROUNDS):
                plain.append(await _run(client, base, token_url=None))
                oauth2.append(await _run(client, base, token_url=token_url))
        await tokens.cleanup()
    (rate, _), (baseline, _) = max(oauth2), max(plain)
    cpu, baseline_cpu = min(c for _, c in oauth2), min(c for _, c in plain)
    return [
        {
            "name": "oauth2_webhook",
            "value": round(rate, 1),
            "unit": "webhooks/s",
            "baseline": round(baseline, 1),
            "baseline_name": "actions_webhook",
            "ratio": round(rate / baseline, 3),
            "target_ratio": 0.9,
            "cpu_us_per_action": round(cpu, 1),
            "baseline_cpu_us_per_action": round(baseline_cpu, 1),
            "rounds": ROUNDS,
        }
    ]


if __name__ == "__main__":
    logger.remove()
    print(json.dumps(asyncio.run(main()), indent=2))
