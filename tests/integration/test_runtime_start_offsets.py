"""``Processor.start_offsets`` on a real broker: assigned partitions start at the greater of the
committed offset and the processor's, under eager and cooperative assignment; a failing hook
falls back to the committed offsets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import pytest

from claimx_worker.kafka import ProcessContext, Processor
from claimx_worker.kafka.settings import KafkaSettings
from claimx_worker.testing.kafka import KafkaBroker, TopicFactory
from tests.integration.runtime_support import kafka_settings, produce, running, wait_for

pytestmark = pytest.mark.kafka

Position = tuple[str, int]


def _processor(seen: list[int], starts: Mapping[Position, int] | Exception) -> Processor[bytes]:
    async def process(value: bytes, ctx: ProcessContext) -> None:
        seen.append(ctx.offset)

    async def start_offsets(partitions: Sequence[Position]) -> Mapping[Position, int]:
        if isinstance(starts, Exception):
            raise starts
        return {part: offset for part, offset in starts.items() if part in partitions}

    return Processor(decode=bytes, process=process, start_offsets=start_offsets)


def _settings(broker: KafkaBroker, factory: TopicFactory, strategy: str) -> KafkaSettings:
    settings = kafka_settings(broker, factory, partitions=1)
    return attrs.evolve(settings, consumer={"partition.assignment.strategy": strategy})


@pytest.mark.parametrize("strategy", ["range", "cooperative-sticky"])
async def test_partitions_start_at_the_greater_of_the_committed_and_the_processors_offset(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory, strategy: str
) -> None:
    settings = _settings(kafka_broker, kafka_topic_factory, strategy)
    pending = settings.worker.topics.pending
    produce(kafka_broker, pending, [(b"k", b"%d" % i, None) for i in range(10)])

    seen: list[int] = []
    async with running(settings, _processor(seen, {(pending, 0): 6})):
        await wait_for(lambda: len(seen) == 4, "the records from offset 6")
    assert seen == [6, 7, 8, 9]  # ahead of the (absent) committed offset: the processor's

    produce(kafka_broker, pending, [(b"k", b"%d" % i, None) for i in range(10, 12)])
    seen.clear()
    async with running(settings, _processor(seen, {(pending, 0): 3})):
        await wait_for(lambda: len(seen) == 2, "the records after the committed offset")
    assert seen == [10, 11]  # behind the committed offset (10): the committed one


async def test_a_failing_hook_starts_at_the_committed_offsets(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    settings = _settings(kafka_broker, kafka_topic_factory, "range")
    pending = settings.worker.topics.pending
    produce(kafka_broker, pending, [(b"k", b"%d" % i, None) for i in range(5)])
    seen: list[int] = []
    async with running(settings, _processor(seen, OSError("storage unreachable"))):
        await wait_for(lambda: len(seen) == 5, "every record")
    assert seen == [0, 1, 2, 3, 4]
