"""10,000 events over 6 partitions with random processing delays, on a real broker:
everything processed, per-key order kept, commits never ahead of finished work, and a restarted
consumer processes nothing again that was committed."""

from __future__ import annotations

import asyncio
import json
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence

import pytest

from claimx_worker.kafka import CommittedOffset, ProcessContext, Processor
from claimx_worker.kafka.settings import KafkaSettings
from claimx_worker.testing.kafka import KafkaBroker, TopicFactory
from tests.integration.runtime_support import kafka_settings, produce, read_topic, running

pytestmark = pytest.mark.kafka

EVENTS = 10_000
PARTITIONS = 6
KEYS = 300


class Workload:
    """Processes ``{"key", "seq"}`` events after a random 0-5 ms; checks per-key order and
    records finished work (output acknowledged, then ``process()`` returns)."""

    def __init__(self, output: str, stop_after: int, start: Mapping[int, int]) -> None:
        self.output = output
        self.stop_after = stop_after
        self.start = start
        self.rng = random.Random(5)
        self.processed: list[tuple[int, int]] = []
        self.finished: set[tuple[int, int]] = set()
        self.finish_order: dict[int, list[int]] = defaultdict(list)
        self.last_seq: dict[str, int] = {}
        self.running_keys: set[str] = set()
        self.errors: list[str] = []
        self.commits: list[CommittedOffset] = []
        self.enough = asyncio.Event()

    async def process(self, value: bytes, ctx: ProcessContext) -> None:
        event = json.loads(value)
        key, seq = event["key"], event["seq"]
        if key in self.running_keys:
            self.errors.append(f"{key} ran concurrently at seq {seq}")
        if seq <= self.last_seq.get(key, -1):
            self.errors.append(f"{key}: seq {seq} after {self.last_seq[key]}")
        self.running_keys.add(key)
        self.last_seq[key] = seq
        self.processed.append((ctx.partition, ctx.offset))
        try:
            await asyncio.sleep(self.rng.random() * 0.005)
            await ctx.send(self.output, value, ctx.key)
        finally:
            self.running_keys.discard(key)
        self.finished.add((ctx.partition, ctx.offset))
        self.finish_order[ctx.partition].append(ctx.offset)
        if len(self.finished) >= self.stop_after:
            self.enough.set()

    def on_commit(self, offsets: Sequence[CommittedOffset]) -> None:
        """At every commit: every offset below the committed one must be finished."""
        for commit in offsets:
            unfinished = [
                offset
                for offset in range(self.start.get(commit.partition, 0), commit.offset)
                if (commit.partition, offset) not in self.finished
            ]
            if unfinished:
                self.errors.append(
                    f"partition {commit.partition} committed {commit.offset} "
                    f"before offsets {unfinished[:5]} finished"
                )
        self.commits.extend(offsets)

    def final_commits(self) -> dict[int, int]:
        return {commit.partition: commit.offset for commit in self.commits}


def events() -> list[tuple[bytes, bytes, None]]:
    rng = random.Random(11)
    seq: dict[str, int] = defaultdict(int)
    records = []
    for _ in range(EVENTS):
        key = f"project-{rng.randrange(KEYS)}"
        records.append((key.encode(), json.dumps({"key": key, "seq": seq[key]}).encode(), None))
        seq[key] += 1
    return records


async def run_until(settings: KafkaSettings, workload: Workload) -> None:
    processor = Processor(decode=bytes, process=workload.process)
    async with running(settings, processor, on_commit=workload.on_commit):
        await asyncio.wait_for(workload.enough.wait(), 60)


async def test_ten_thousand_events_in_order_per_key_commits_never_ahead_restart_no_rework(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    settings = kafka_settings(kafka_broker, kafka_topic_factory, partitions=PARTITIONS)
    topics = settings.worker.topics
    produce(kafka_broker, topics.pending, events())

    # First run: stopped after about half; the stop drains what was fetched and commits.
    first = Workload(topics.enriched, stop_after=EVENTS // 2, start={})
    await run_until(settings, first)
    assert first.errors == []
    assert len(first.commits) > PARTITIONS  # periodic commits, each checked, not only the last
    committed = first.final_commits()
    # Completion was out of order, so the commit check was a real one.
    assert any(order != sorted(order) for order in first.finish_order.values())
    # Graceful stop: every event fetched was finished and committed.
    assert sum(committed.values()) == len(first.finished)

    # Second run, same group: resumes at the commits and finishes the rest.
    second = Workload(topics.enriched, stop_after=EVENTS - len(first.finished), start=committed)
    await run_until(settings, second)
    assert second.errors == []
    assert [(p, o) for p, o in second.processed if o < committed.get(p, 0)] == []
    assert len(first.finished | second.finished) == EVENTS
    assert first.finished.isdisjoint(second.finished)

    outputs = read_topic(kafka_broker, topics.enriched, EVENTS, settle=0.5)
    assert len(outputs) == EVENTS
