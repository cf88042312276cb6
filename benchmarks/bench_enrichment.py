"""Enrichment throughput and HTTP client cost against the ClaimX API simulator.

The simulator runs in separate processes (one answering at once, one after 20 ms), so only the
client's CPU is counted. For each HTTP client option (httpx over the aiohttp transport, native
httpx, sync httpx on a thread pool) it measures, 20 requests in flight:

- ``GET /customTasks/assignment/{id}`` through the API client (which calls the httpx transport
  directly), and through the whole httpx client: ``httpx.AsyncClient`` for the async options,
  ``httpx.Client`` on a 20-thread pool for ``threads``;
- task-event enrichment (assignment call + shared, cached project call) at 0 ms and 20 ms, with
  200 events in flight and the API concurrency bound at its default of 20.

The API client drives aiohttp directly for the ``aiohttp`` option (no httpx objects per
request) and goes through ``httpx.AsyncClient`` for the others. ``http_client_pyreqwest`` is the
same calls through pyreqwest's native API (a Rust client; installed by ``nox -s bench`` only, not
a dependency), for comparison: the floor a Rust client would give.

Prints one JSON list: ``enrichment_task_events_0ms`` / ``_20ms`` (events/s with the default,
chosen client) and one ``http_client_<option>`` per option (requests/s through the API client at
0 ms; CPU per request, the whole-client figures and the enrichment figures as extra keys).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker.claimx import (
    ApiCallTally,
    ApiSettings,
    ClaimXApiClient,
    ClaimXMetrics,
    Enricher,
)
from claimx_worker.http.transport import HttpClientKind, build_transport
from claimx_worker.model import ClaimXEvent
from claimx_worker.testing.claimx_api import SIMULATOR_TOKEN

RAW_REQUESTS = 3000
EVENTS_0MS = 4000
EVENTS_20MS = 3000
WARMUP = 50
TIME_BOX_SECONDS = 2.5
"""Each measurement stops taking new items after this long (slow options finish fewer)."""
EVENTS_IN_FLIGHT = 200
PROJECTS = 100
TARGET_EVENTS_PER_S = 1500.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


@contextmanager
def simulator(latency_ms: float) -> Iterator[tuple[str, int]]:
    """A simulator process; yields its base URL and pid."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "claimx_worker.testing.claimx_api",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        if not base_url.startswith("http"):
            raise RuntimeError("the simulator did not start")
        yield base_url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def process_cpu_seconds(pid: int) -> float:
    """user + system CPU of another process, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


async def measure(
    count: int, in_flight: int, one: Callable[[int], Awaitable[object]], server_pid: int
) -> dict[str, float]:
    """Run ``one(i)`` for up to ``count`` items (time-boxed), ``in_flight`` at a time: rate
    and CPU per item."""
    next_index = iter(range(count))
    done = 0
    deadline = time.perf_counter() + TIME_BOX_SECONDS

    async def worker() -> None:
        nonlocal done
        for index in next_index:
            await one(index)
            done += 1
            if time.perf_counter() > deadline:
                return

    server_cpu = process_cpu_seconds(server_pid)
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    server_cpu = process_cpu_seconds(server_pid) - server_cpu
    return {
        "per_second": done / wall,
        "client_cpu_us": cpu / done * 1e6,
        "server_cpu_us": server_cpu / done * 1e6,
        "count": done,
    }


def settings(base_url: str, kind: HttpClientKind) -> ApiSettings:
    return ApiSettings(base_url=base_url, token=SIMULATOR_TOKEN, http_client=kind, retries=0)


async def raw_requests(base_url: str, pid: int, kind: HttpClientKind) -> dict[str, float]:
    """Plain API calls through the client (no caching), 20 in flight."""
    metrics = ClaimXMetrics(CollectorRegistry())
    async with ClaimXApiClient(settings(base_url, kind), metrics=metrics) as client:
        tally = ApiCallTally()

        async def one(index: int) -> object:
            return await client.get_task_assignment(1000 + index, tally)

        await measure(WARMUP, 20, one, pid)
        return await measure(RAW_REQUESTS, 20, one, pid)


async def whole_client_requests(base_url: str, pid: int, kind: HttpClientKind) -> dict[str, float]:
    """The same calls through the whole httpx client (AsyncClient, or Client on threads)."""
    options = settings(base_url, kind)
    headers = {"Authorization": f"Basic {SIMULATOR_TOKEN}", "Accept": "application/json"}

    def url(index: int) -> str:
        return f"{base_url}/customTasks/assignment/{1000 + index}?full=true"

    if kind is HttpClientKind.THREADS:
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
        with (
            httpx.Client(headers=headers, limits=limits) as client,
            ThreadPoolExecutor(20) as pool,
        ):
            loop = asyncio.get_running_loop()

            async def one_sync(index: int) -> object:
                response = await loop.run_in_executor(pool, client.get, url(index))
                return response.json()

            await measure(WARMUP, 20, one_sync, pid)
            return await measure(RAW_REQUESTS, 20, one_sync, pid)
    transport = build_transport(options.http_client, max_connections=options.max_concurrency)
    async with httpx.AsyncClient(headers=headers, transport=transport) as client:

        async def one(index: int) -> object:
            return (await client.get(url(index))).json()

        await measure(WARMUP, 20, one, pid)
        return await measure(RAW_REQUESTS, 20, one, pid)


async def pyreqwest_requests(base_url: str, pid: int) -> dict[str, float]:
    """The same calls through pyreqwest's native async API (a Rust client, installed by the
    bench session only), configured as the API client is: pooled, 30 s timeout, no redirects."""
    from pyreqwest.client import ClientBuilder

    headers = {"Authorization": f"Basic {SIMULATOR_TOKEN}", "Accept": "application/json"}
    builder = ClientBuilder().max_connections(20).timeout(timedelta(seconds=30))
    async with builder.follow_redirects(False).build() as client:

        async def one(index: int) -> object:
            url = f"{base_url}/customTasks/assignment/{1000 + index}?full=true"
            response = await client.get(url).headers(headers).build().send()
            return await response.json()

        await measure(WARMUP, 20, one, pid)
        return await measure(RAW_REQUESTS, 20, one, pid)


def task_event(index: int) -> ClaimXEvent:
    project = 1 + index % PROJECTS
    return ClaimXEvent(
        event_id=f"bench-{index}",
        event_type="CUSTOM_TASK_ASSIGNED",
        project_id=str(project),
        task_assignment_id=str(project * 1000 + index % 1000),
    )


async def enrichment(base_url: str, pid: int, kind: HttpClientKind, count: int) -> dict[str, float]:
    """Task events through the Enricher, ``EVENTS_IN_FLIGHT`` at a time."""
    enricher = Enricher.from_settings(settings(base_url, kind), registry=CollectorRegistry())
    async with enricher:

        async def one(index: int) -> object:
            result = await enricher.enrich(task_event(index))
            assert result.rows.project is not None
            assert result.rows.first_task is not None
            return result

        await measure(WARMUP, EVENTS_IN_FLIGHT, one, pid)
        return await measure(count, EVENTS_IN_FLIGHT, one, pid)


def main() -> None:
    logger.remove()  # the worker logs at INFO; the per-event line is DEBUG
    chosen = ApiSettings().http_client
    figures: dict[HttpClientKind, dict[str, Any]] = {}
    with simulator(0) as (fast_url, fast_pid), simulator(20) as (slow_url, slow_pid):
        for kind in HttpClientKind:
            raw = asyncio.run(raw_requests(fast_url, fast_pid, kind))
            whole = asyncio.run(whole_client_requests(fast_url, fast_pid, kind))
            at_0 = asyncio.run(enrichment(fast_url, fast_pid, kind, EVENTS_0MS))
            at_20 = asyncio.run(enrichment(slow_url, slow_pid, kind, EVENTS_20MS))
            figures[kind] = {"raw": raw, "whole": whole, "0ms": at_0, "20ms": at_20}
            print(f"{kind}: {json.dumps(figures[kind])}", file=sys.stderr)
        native = asyncio.run(pyreqwest_requests(fast_url, fast_pid))
    fastest = max(figures, key=lambda k: figures[k]["0ms"]["per_second"])
    results: list[dict[str, Any]] = []
    for latency in ("0ms", "20ms"):
        value = figures[chosen][latency]
        result = {
            "name": f"enrichment_task_events_{latency}",
            "value": round(value["per_second"], 1),
            "unit": "events/s",
            "client": str(chosen),
            "client_cpu_us_per_event": round(value["client_cpu_us"], 1),
            "server_cpu_us_per_event": round(value["server_cpu_us"], 1),
            "fastest_client": str(fastest),
        }
        if latency == "0ms":
            result["target"] = TARGET_EVENTS_PER_S
            result["ratio"] = round(value["per_second"] / TARGET_EVENTS_PER_S, 3)
        results.append(result)
    for kind, figure in figures.items():
        raw = figure["raw"]
        results.append(
            {
                "name": f"http_client_{kind}",
                "value": round(raw["per_second"], 1),
                "unit": "requests/s",
                "client_cpu_us_per_request": round(raw["client_cpu_us"], 1),
                "server_cpu_us_per_request": round(raw["server_cpu_us"], 1),
                "whole_client_requests_per_s": round(figure["whole"]["per_second"], 1),
                "whole_client_cpu_us_per_request": round(figure["whole"]["client_cpu_us"], 1),
                "task_events_per_s_0ms": round(figure["0ms"]["per_second"], 1),
                "client_cpu_us_per_event_0ms": round(figure["0ms"]["client_cpu_us"], 1),
                "task_events_per_s_20ms": round(figure["20ms"]["per_second"], 1),
                "client_cpu_us_per_event_20ms": round(figure["20ms"]["client_cpu_us"], 1),
                "in_flight": 20,
            }
        )
    results.append(
        {
            "name": "http_client_pyreqwest",
            "value": round(native["per_second"], 1),
            "unit": "requests/s",
            "client_cpu_us_per_request": round(native["client_cpu_us"], 1),
            "server_cpu_us_per_request": round(native["server_cpu_us"], 1),
            "path": "pyreqwest's native API alone (not behind the API client)",
            "in_flight": 20,
        }
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
