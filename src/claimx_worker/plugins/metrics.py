"""Per-instance, per-hook plugin metrics: calls, errors by kind, and latency.

The stage runner's hot path must stay in microseconds, so a call only bumps plain integers on a
pre-bound :class:`HookStats`; a collector registered on the given registry turns them into
``claimx_plugin_calls_total{instance,hook}``,
``claimx_plugin_errors_total{instance,hook,kind}`` (kind: exception, timeout, invalid_return)
and the histogram ``claimx_plugin_duration_seconds{instance,hook}`` at scrape time. Stats are
written from the event loop thread only; a scrape from another thread may see a call counted
whose latency is not yet observed, never a torn value.
"""

from __future__ import annotations

import enum
from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

DURATION_BUCKETS: tuple[float, ...] = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)
"""Upper bounds (seconds) of the latency histogram: hooks are expected to take microseconds."""


class ErrorKind(enum.StrEnum):
    """Why a hook call did not count as a success."""

    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    INVALID_RETURN = "invalid_return"


class HookStats:
    """Counters of one (instance, hook) pair; mutated in place by the stage runner."""

    __slots__ = ("buckets", "errors", "seconds")

    def __init__(self) -> None:
        self.errors = dict.fromkeys(ErrorKind, 0)
        self.buckets = [0] * (len(DURATION_BUCKETS) + 1)  # the last one is +Inf
        self.seconds = 0.0

    @property
    def calls(self) -> int:
        """Calls so far (every call, failed or not, records its latency exactly once)."""
        return sum(self.buckets)

    def observe(self, seconds: float) -> None:
        """Record one call and its latency."""
        self.seconds += seconds
        self.buckets[bisect_left(DURATION_BUCKETS, seconds)] += 1


class PluginMetrics(Collector):
    """Plugin metrics on ``registry``; :meth:`stats` pre-binds one (instance, hook) pair."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._stats: dict[tuple[str, str], HookStats] = {}
        registry.register(self)

    def stats(self, instance: str, hook: str) -> HookStats:
        """The stats of ``instance``'s ``hook`` (created on first use, then shared)."""
        return self._stats.setdefault((instance, hook), HookStats())

    def snapshot(self) -> list[tuple[tuple[str, str], HookStats]]:
        """Every ((instance, hook), stats) pair so far."""
        return list(self._stats.items())

    def describe(self) -> Iterator[Metric]:
        """The metric families without samples (lets the registry check names cheaply)."""
        return self._families(with_samples=False)

    def collect(self) -> Iterator[Metric]:
        """The metric families with one sample set per (instance, hook)."""
        return self._families(with_samples=True)

    def _families(self, *, with_samples: bool) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "claimx_plugin_calls", "Plugin hook calls.", labels=["instance", "hook"]
        )
        errors = CounterMetricFamily(
            "claimx_plugin_errors",
            "Plugin hook calls that raised, ran past their time budget or returned garbage.",
            labels=["instance", "hook", "kind"],
        )
        duration = HistogramMetricFamily(
            "claimx_plugin_duration_seconds",
            "Plugin hook call latency.",
            labels=["instance", "hook"],
        )
        if with_samples:
            for (instance, hook), stats in sorted(self._stats.items()):
                calls.add_metric([instance, hook], stats.calls)
                for kind, count in stats.errors.items():
                    errors.add_metric([instance, hook, kind.value], count)
                duration.add_metric(
                    [instance, hook], _cumulative(stats.buckets), sum_value=stats.seconds
                )
        yield calls
        yield errors
        yield duration


def _cumulative(buckets: list[int]) -> list[tuple[str, float]]:
    bounds = [*(repr(bound) for bound in DURATION_BUCKETS), "+Inf"]
    total = 0
    result: list[tuple[str, float]] = []
    for bound, count in zip(bounds, buckets, strict=True):
        total += count
        result.append((bound, float(total)))
    return result
