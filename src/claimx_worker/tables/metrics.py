"""Prometheus metrics of the table writer."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from claimx_worker.tables.batch import Position

_BATCH_ROWS = (10, 100, 500, 1000, 2500, 5000, 10000, 25000, 50000)


class TablesMetrics(Collector):
    """Rows written per table, commit latency, batch size and the writer's offset lag."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.rows_written = Counter(
            "claimx_tables_rows_written",
            "Rows merged into the entity tables, by table.",
            ["table"],
            registry=registry,
        )
        self.commit_seconds = Histogram(
            "claimx_tables_commit_seconds",
            "Time to merge and commit one batch into one table.",
            ["table"],
            registry=registry,
        )
        self.batch_rows = Histogram(
            "claimx_tables_batch_rows",
            "Rows per batch written (all tables).",
            buckets=_BATCH_ROWS,
            registry=registry,
        )
        self.consumed: dict[Position, int] = {}
        """The highest offset consumed per partition."""
        self.written: dict[Position, int] = {}
        """The highest offset written to every table per partition."""
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        """The offset lag gauge, read at scrape time."""
        lag = GaugeMetricFamily(
            "claimx_tables_offset_lag",
            "Messages consumed from the entity-rows topic and not yet in the tables, by partition.",
            labels=["topic", "partition"],
        )
        for (topic, partition), offset in sorted(self.consumed.items()):
            lag.add_metric(
                [topic, str(partition)], offset - self.written.get((topic, partition), -1)
            )
        yield lag
