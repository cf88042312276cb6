"""The observability HTTP server on loopback: /metrics, /healthz, /readyz against real sockets."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Iterator

import httpx
import pytest
from loguru import logger
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from claimx_worker.observability.health import HealthState, run_heartbeat
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.metrics import register_process_metrics
from claimx_worker.observability.redaction import Redactor
from claimx_worker.observability.server import ObservabilityServer, start_observability_server
from claimx_worker.observability.status import StatusBoard
from tests.fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def health(clock: FakeClock) -> HealthState:
    return HealthState(stale_after=5.0, clock=clock)


@pytest.fixture
def registry(health: HealthState) -> CollectorRegistry:
    registry = CollectorRegistry()
    register_process_metrics(registry, version="9.9.9", health=health)
    return registry


@pytest.fixture
def server(registry: CollectorRegistry, health: HealthState) -> Iterator[ObservabilityServer]:
    with start_observability_server(0, registry, health, host="127.0.0.1") as server:
        yield server


def get(server: ObservabilityServer, path: str) -> httpx.Response:
    return httpx.get(server.url + path, timeout=5.0)


def test_port_zero_picks_a_free_port(server: ObservabilityServer) -> None:
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"


def test_metrics_in_prometheus_text_format(
    server: ObservabilityServer, registry: CollectorRegistry
) -> None:
    Counter("claimx_test_events", "Test counter.", ["event_type"], registry=registry).labels(
        "PROJECT_CREATED"
    ).inc(3)
    response = get(server, "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'claimx_test_events_total{event_type="PROJECT_CREATED"} 3.0' in response.text
    assert 'claimx_build_info{version="9.9.9"} 1.0' in response.text


def test_metrics_filtered_by_name(server: ObservabilityServer) -> None:
    response = get(server, "/metrics?name[]=claimx_build_info")
    lines = [line for line in response.text.splitlines() if not line.startswith("#")]
    assert lines == ['claimx_build_info{version="9.9.9"} 1.0']


def test_healthz_follows_the_heartbeat(
    server: ObservabilityServer, health: HealthState, clock: FakeClock
) -> None:
    response = get(server, "/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "heartbeat_age_seconds": 0.0,
        "stale_after_seconds": 5.0,
    }

    clock.now += 6.0
    response = get(server, "/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "stale"

    health.beat()
    assert get(server, "/healthz").status_code == 200


def test_readyz_lists_failing_checks(
    server: ObservabilityServer, health: HealthState, clock: FakeClock
) -> None:
    health.declare("partitions_assigned", "broker_reachable", "plugins_loaded")
    health.set_check("plugins_loaded", True)
    response = get(server, "/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "status": "not ready",
        "failing": ["broker_reachable", "partitions_assigned"],
        "checks": {
            "event_loop": True,
            "partitions_assigned": False,
            "broker_reachable": False,
            "plugins_loaded": True,
        },
    }

    health.set_check("partitions_assigned", True)
    health.set_check("broker_reachable", True)
    response = get(server, "/readyz")
    assert response.status_code == 200
    assert response.json()["failing"] == []

    clock.now += 6.0
    response = get(server, "/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["event_loop"]


def test_unknown_path_and_method(server: ObservabilityServer) -> None:
    assert get(server, "/nope").status_code == 404
    assert httpx.post(server.url + "/healthz", timeout=5.0).status_code == 405


def test_many_concurrent_scrapes(server: ObservabilityServer) -> None:
    async def scrape_all() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as client:
            paths = ["/metrics", "/healthz", "/readyz"] * 10
            responses = await asyncio.gather(*(client.get(path) for path in paths))
            return [response.status_code for response in responses]

    assert asyncio.run(scrape_all()) == [200] * 30


def test_a_failing_collector_gives_500_and_a_redacted_log_line(
    registry: CollectorRegistry, health: HealthState
) -> None:
    class Broken(Collector):
        def collect(self) -> Iterator[Metric]:
            raise RuntimeError("collector failed with token cx-secret-1234")

    registry.register(Broken())
    sink = io.StringIO()
    configure_logging(
        redactor=Redactor(["cx-secret-1234"]),
        level="INFO",
        fmt="human",
        sink=sink,
        capture_stdlib=False,
    )
    try:
        with start_observability_server(0, registry, health, host="127.0.0.1") as server:
            assert get(server, "/metrics").status_code == 500
            assert get(server, "/healthz").status_code == 200
    finally:
        logger.remove()
        logger.add(sys.stderr)
    output = sink.getvalue()
    assert output.startswith("ERROR: Observability request failed | path=/metrics\n")
    assert "RuntimeError: collector failed with token ***" in output
    assert "cx-secret-1234" not in output


def test_close_releases_the_port_for_a_restart(
    registry: CollectorRegistry, health: HealthState
) -> None:
    server = start_observability_server(0, registry, health, host="127.0.0.1")
    port = server.port
    assert get(server, "/healthz").status_code == 200
    server.close()
    server.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2.0)
    with start_observability_server(port, registry, health, host="127.0.0.1") as again:
        assert get(again, "/healthz").status_code == 200


async def test_real_heartbeat_on_a_running_loop() -> None:
    health = HealthState(stale_after=0.3)
    heartbeat = asyncio.create_task(run_heartbeat(health, interval=0.05))
    with start_observability_server(0, CollectorRegistry(), health, host="127.0.0.1") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=5.0) as client:
            await asyncio.sleep(0.4)
            assert (await client.get("/healthz")).status_code == 200
            heartbeat.cancel()
            await asyncio.sleep(0.5)
            response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["heartbeat_age_seconds"] >= 0.3


def test_idle_connections_are_bounded_and_timed_out(
    registry: CollectorRegistry, health: HealthState
) -> None:
    """800 idle half-open requests once made 802 threads: connections are capped and each one
    has a socket timeout, so the server serves again once the idle ones are dropped."""
    import socket
    import threading
    import time

    before = threading.active_count()
    with start_observability_server(
        0, registry, health, host="127.0.0.1", max_connections=8, connection_timeout=0.5
    ) as server:
        idle = []
        for _ in range(100):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # never finished
            idle.append(sock)
        time.sleep(0.2)
        assert threading.active_count() - before <= 8 + 1  # the serving thread
        deadline = time.monotonic() + 10
        while True:
            try:
                response = get(server, "/healthz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server never served again"
                time.sleep(0.2)
        assert response.status_code == 200
        for sock in idle:
            sock.close()


def test_status_serves_each_section_from_its_provider_and_isolates_a_failing_one(
    registry: CollectorRegistry, health: HealthState
) -> None:
    board = StatusBoard()
    calls: list[int] = []
    board.provide("config", lambda: {"hash": "abc", "n": len(calls)})
    board.provide("partitions", lambda: calls.append(1) or [{"topic": "t", "partition": 0}])

    def broken() -> object:
        raise RuntimeError("secret-looking detail")

    board.provide("plugins", broken)
    with start_observability_server(0, registry, health, host="127.0.0.1", status=board) as srv:
        first = get(srv, "/status")
        second = get(srv, "/status")
        refused = httpx.post(srv.url + "/status", timeout=5.0)

    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json"
    assert first.json() == {
        "config": {"hash": "abc", "n": 0},
        "partitions": [{"topic": "t", "partition": 0}],
        "plugins": {"error": "RuntimeError"},
    }
    assert second.json()["config"]["n"] == 1  # read at each request
    assert refused.status_code == 405


def test_without_a_status_board_status_is_not_found(server: ObservabilityServer) -> None:
    assert get(server, "/status").status_code == 404
