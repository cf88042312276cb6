"""Process-level metrics: build info, process/platform/GC collectors, health gauges."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from claimx_worker.observability.health import HealthState


class HealthCollector(Collector):
    """Exposes a :class:`HealthState` at scrape time (no state of its own)."""

    def __init__(self, health: HealthState) -> None:
        self._health = health

    def collect(self) -> Iterator[Metric]:
        """Yield the heartbeat age, the loop lag summary and one gauge per readiness check."""
        liveness = self._health.liveness()
        yield GaugeMetricFamily(
            "claimx_heartbeat_age_seconds",
            "Seconds since the worker's event loop last beat.",
            value=liveness.age,
        )
        yield SummaryMetricFamily(
            "claimx_event_loop_lag_seconds",
            "How late the event loop ran each heartbeat (a blocked loop shows here).",
            count_value=liveness.beats,
            sum_value=liveness.lag_total,
        )
        checks = GaugeMetricFamily(
            "claimx_readiness_check",
            "1 when the named readiness check passes, else 0.",
            labels=["check"],
        )
        for name, ok in sorted(self._health.readiness().checks.items()):
            checks.add_metric([name], 1.0 if ok else 0.0)
        yield checks


def register_process_metrics(
    registry: CollectorRegistry, *, version: str, health: HealthState
) -> None:
    """Register ``claimx_build_info{version}``, the health gauges, and prometheus-client's
    standard ``process_*``, ``python_info`` and ``python_gc_*`` collectors on ``registry``."""
    Info("claimx_build", "Version of the running claimx-worker.", registry=registry).info(
        {"version": version}
    )
    registry.register(HealthCollector(health))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
