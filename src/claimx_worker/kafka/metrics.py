"""Prometheus metrics of the Kafka runtime.

Counted in plain integers on the event loop and turned into metric families only when scraped,
so the per-event cost is a dictionary increment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class RuntimeMetrics(Collector):
    """The runtime's counters and gauges, registered in ``registry``.

    Gauges are read from the ``gauges`` callables at scrape time: ``in_flight``,
    ``uncommitted``, ``assigned`` and ``paused``.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        in_flight: Callable[[], int],
        uncommitted: Callable[[], int],
        assigned: Callable[[], int],
        paused: Callable[[], int],
    ) -> None:
        self.consumed: Counter[str] = Counter()
        """Records fetched, by topic."""
        self.processed_ok = 0
        """Events done successfully."""
        self.processed: Counter[str] = Counter()
        """Events done after a failure, by outcome: ``retry`` or ``dlq``."""
        self.retries: Counter[str] = Counter()
        """Retry records written, by delay label."""
        self.dlq_writes: Counter[tuple[str, str]] = Counter()
        """DLQ records written, by (topic, category)."""
        self.last_commit_timestamp = 0.0
        self._gauges = (
            ("claimx_events_in_flight", "Events fetched and not yet done.", in_flight),
            (
                "claimx_uncommitted_events",
                "Fetched events at or above the committable offset of their partition.",
                uncommitted,
            ),
            ("claimx_partitions_assigned", "Partitions assigned to this worker.", assigned),
            ("claimx_partitions_paused", "Assigned partitions currently paused.", paused),
        )
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        """Metric families for a scrape."""
        yield _counter(
            "claimx_events_consumed", "Records fetched from Kafka.", ["topic"], self.consumed
        )
        yield _counter(
            "claimx_events_processed",
            "Events done, by outcome (ok, retry, dlq).",
            ["outcome"],
            Counter({"ok": self.processed_ok, **self.processed}),
        )
        yield _counter(
            "claimx_retries", "Events sent to a retry topic, by delay.", ["delay"], self.retries
        )
        dlq = CounterMetricFamily(
            "claimx_dlq_writes", "Records written to a DLQ.", labels=["topic", "category"]
        )
        for (topic, category), count in list(self.dlq_writes.items()):
            dlq.add_metric([topic, category], count)
        yield dlq
        yield GaugeMetricFamily(
            "claimx_last_commit_timestamp_seconds",
            "Unix time of the last successful offset commit.",
            value=self.last_commit_timestamp,
        )
        for name, documentation, read in self._gauges:
            yield GaugeMetricFamily(name, documentation, value=read())


def _counter(
    name: str, documentation: str, labels: list[str], counts: Counter[str]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for label, count in list(counts.items()):
        family.add_metric([label], count)
    return family
