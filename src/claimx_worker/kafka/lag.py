"""Consumer lag you can alert on: per assigned partition, the high watermark minus the group's
committed offset, and how long the oldest uncommitted event has waited in the worker.

:class:`LagMonitor` samples every ``lag_interval_seconds`` on the worker's loop: watermarks and
committed offsets come from the cluster (the same figures Kafka's own tools show, paused
partitions included), asked off the loop by a consumer client of its own that never joins the
group; the ages come from the runtime's offset tracking. (An admin client's ``list_offsets``
was tried first: while the broker restarted, librdkafka aborted the process on an assertion.)

A scrape or :meth:`LagMonitor.snapshot` (the read-only view a status page shows) reads the last
sample and never waits on Kafka. When a sample fails (the cluster is unreachable) the previous
one stays, and its ``sampled_at`` tells how old it is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

from attrs import frozen
from confluent_kafka import Consumer, KafkaException, TopicPartition
from loguru import logger
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from claimx_worker.kafka.partitions import Assignment


@frozen
class PartitionLag:
    """One assigned partition at the last sample."""

    topic: str
    partition: int
    high_watermark: int
    committed: int | None
    """The group's committed offset; ``None`` before its first commit."""
    lag: int
    """Records not yet committed: ``high_watermark`` minus ``committed`` (or the log start)."""
    oldest_uncommitted_age_seconds: float
    """How long the oldest fetched event not yet committable has waited (0: none waits)."""


@frozen
class LagSnapshot:
    """The last sample: when it was taken (Unix time; 0 before the first) and the partitions."""

    sampled_at: float = 0.0
    partitions: tuple[PartitionLag, ...] = ()


Sampler = Callable[[list[TopicPartition]], dict[tuple[str, int], tuple[int, int, int | None]]]
"""Reads (log start, high watermark, committed offset or ``None``) of partitions (blocking)."""


class LagMonitor:
    """Samples the lag of the ``assignment``'s partitions for the consumer ``group``, every
    ``interval`` seconds while :meth:`run` runs, through a client of its own (``client_config``:
    the servers and security settings; it never joins the group, it only reads its offsets)."""

    def __init__(
        self,
        client_config: Mapping[str, Any],
        group: str,
        assignment: Assignment,
        *,
        interval: float,
        timeout: float = 5.0,
    ) -> None:
        self._client_config = dict(client_config)
        self._group = group
        self._assignment = assignment
        self._interval = interval
        self._timeout = timeout
        self._snapshot = LagSnapshot()

    def snapshot(self) -> LagSnapshot:
        """The last sample (safe from any thread)."""
        return self._snapshot

    async def run(self) -> NoReturn:
        """Sample until cancelled."""
        client = Consumer(
            {**self._client_config, "group.id": self._group, "enable.auto.commit": False}
        )
        try:
            while True:
                await self.sample(lambda parts: self._read(client, parts))
                await asyncio.sleep(self._interval)
        finally:
            await asyncio.to_thread(client.close)

    async def sample(self, read: Sampler) -> None:
        """Take one sample with ``read`` (run in a thread); keep the last one if it fails."""
        parts = list(self._assignment.partitions.values())
        if not parts:
            self._snapshot = LagSnapshot(time.time(), ())
            return
        try:
            offsets = await asyncio.to_thread(
                read, [TopicPartition(part.topic, part.partition) for part in parts]
            )
        except KafkaException as exc:
            logger.bind(error=str(exc.args[0] if exc.args else exc)).debug(
                "Consumer lag not sampled"
            )
            return
        except Exception:  # a bug must not end the sampling (its timestamp would go stale)
            logger.exception("Consumer lag sampling failed")
            return
        now = time.time()
        sampled = []
        for part in parts:
            found = offsets.get((part.topic, part.partition))
            if found is None:
                continue
            low, high, committed = found
            sampled.append(
                PartitionLag(
                    topic=part.topic,
                    partition=part.partition,
                    high_watermark=high,
                    committed=committed,
                    lag=max(0, high - max(low, committed if committed is not None else low)),
                    oldest_uncommitted_age_seconds=part.offsets.oldest_age(now),
                )
            )
        self._snapshot = LagSnapshot(now, tuple(sampled))

    def _read(
        self, client: Consumer, partitions: list[TopicPartition]
    ) -> dict[tuple[str, int], tuple[int, int, int | None]]:
        timeout = self._timeout
        committed = {
            (tp.topic, tp.partition): tp.offset if tp.offset >= 0 else None
            for tp in client.committed(partitions, timeout=timeout)
        }
        offsets = {}
        for tp in partitions:
            low, high = client.get_watermark_offsets(tp, timeout=timeout, cached=False)
            offsets[(tp.topic, tp.partition)] = (low, high, committed.get((tp.topic, tp.partition)))
        return offsets


class LagMetrics(Collector):
    """``claimx_consumer_lag{topic,partition}``,
    ``claimx_oldest_uncommitted_event_age_seconds{topic,partition}`` and
    ``claimx_consumer_lag_sampled_timestamp_seconds``, read from ``snapshot`` at scrape time."""

    def __init__(self, registry: CollectorRegistry, snapshot: Callable[[], LagSnapshot]) -> None:
        self._snapshot = snapshot
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        """Metric families for a scrape."""
        snapshot = self._snapshot()
        lag = GaugeMetricFamily(
            "claimx_consumer_lag",
            "Records of an assigned partition not yet committed (high watermark - committed).",
            labels=["topic", "partition"],
        )
        age = GaugeMetricFamily(
            "claimx_oldest_uncommitted_event_age_seconds",
            "Seconds the oldest fetched, not yet committable event of a partition has waited.",
            labels=["topic", "partition"],
        )
        for part in snapshot.partitions:
            labels = [part.topic, str(part.partition)]
            lag.add_metric(labels, part.lag)
            age.add_metric(labels, part.oldest_uncommitted_age_seconds)
        yield lag
        yield age
        yield GaugeMetricFamily(
            "claimx_consumer_lag_sampled_timestamp_seconds",
            "Unix time of the last consumer lag sample (stale while Kafka is unreachable).",
            value=snapshot.sampled_at,
        )
