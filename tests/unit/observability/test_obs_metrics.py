"""register_process_metrics: build info, health gauges and standard collectors on one registry."""

from __future__ import annotations

import sys

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from tests.fakes import FakeClock

from claimx_worker.observability.health import HealthState
from claimx_worker.observability.metrics import register_process_metrics


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(50.0)


@pytest.fixture
def health(clock: FakeClock) -> HealthState:
    return HealthState(stale_after=10.0, clock=clock)


@pytest.fixture
def registry(health: HealthState) -> CollectorRegistry:
    registry = CollectorRegistry()
    register_process_metrics(registry, version="1.2.3", health=health)
    return registry


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_build_info(registry: CollectorRegistry) -> None:
    assert sample(registry, "claimx_build_info", version="1.2.3") == 1.0


def test_health_is_read_at_scrape_time(
    registry: CollectorRegistry, health: HealthState, clock: FakeClock
) -> None:
    health.declare("broker_reachable")
    clock.now += 3.0
    health.beat(loop_lag=0.5)
    clock.now += 1.5
    assert sample(registry, "claimx_heartbeat_age_seconds") == 1.5
    assert sample(registry, "claimx_event_loop_lag_seconds_count") == 1.0
    assert sample(registry, "claimx_event_loop_lag_seconds_sum") == 0.5
    assert sample(registry, "claimx_readiness_check", check="broker_reachable") == 0.0
    assert sample(registry, "claimx_readiness_check", check="event_loop") == 1.0

    health.set_check("broker_reachable", True)
    assert sample(registry, "claimx_readiness_check", check="broker_reachable") == 1.0


@pytest.mark.skipif(sys.platform != "linux", reason="process_* metrics read /proc")
def test_standard_collectors(registry: CollectorRegistry) -> None:
    assert (sample(registry, "process_resident_memory_bytes") or 0.0) > 0.0
    text = generate_latest(registry).decode()
    assert "python_info{" in text
    assert "python_gc_collections_total{" in text


def test_registries_are_independent(health: HealthState) -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    register_process_metrics(first, version="1", health=health)
    register_process_metrics(second, version="2", health=health)
    assert sample(first, "claimx_build_info", version="1") == 1.0
    assert sample(second, "claimx_build_info", version="1") is None
