"""The delivery producer on a real broker: order kept through a full local queue, failures
reported per message."""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict

import pytest

from claimx_worker.kafka import DeliveryError, DeliveryProducer
from claimx_worker.testing.kafka import KafkaBroker, TopicFactory
from tests.integration.runtime_support import read_topic

pytestmark = pytest.mark.kafka


async def test_a_full_local_queue_waits_in_order_instead_of_raising(
    kafka_broker: KafkaBroker, kafka_topic: str
) -> None:
    producer = DeliveryProducer(
        kafka_broker.client_config({"queue.buffering.max.messages": 20, "linger.ms": 20})
    )
    await producer.start()
    acked: list[int] = []
    failed: list[DeliveryError] = []

    def delivered(index: int, error: DeliveryError | None) -> None:
        if error is None:
            acked.append(index)
        else:
            failed.append(error)

    try:
        for index in range(2000):  # far more than librdkafka's queue takes at once
            producer.produce(
                kafka_topic,
                f"{index % 7}:{index}".encode(),
                str(index % 7),
                [("n", str(index))],
                functools.partial(delivered, index),
            )
        assert len(producer) > 20  # the rest waits locally
        async with asyncio.timeout(30):
            await producer.flush()
    finally:
        await producer.close()
    assert failed == []
    assert sorted(acked) == list(range(2000))
    per_key: dict[bytes, list[int]] = defaultdict(list)
    for message in read_topic(kafka_broker, kafka_topic, 2000):
        key, _, number = (message.value() or b"").partition(b":")
        per_key[key].append(int(number))
    assert all(numbers == sorted(numbers) for numbers in per_key.values())
    assert sum(len(numbers) for numbers in per_key.values()) == 2000


async def test_refused_and_failed_messages_are_reported_not_raised(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    topic = kafka_topic_factory(1, config={"max.message.bytes": "2000"})
    producer = DeliveryProducer(kafka_broker.client_config({"message.max.bytes": 10_000}))
    await producer.start()
    try:
        refused = producer.send(topic, b"x" * 20_000)  # over the producer's own limit
        rejected = producer.send(topic, b"x" * 5_000)  # over the topic's limit: the broker says no
        with pytest.raises(DeliveryError) as by_producer:
            await asyncio.wait_for(refused, 10)
        with pytest.raises(DeliveryError) as by_broker:
            await asyncio.wait_for(rejected, 30)
        # (sent after the rejection: the broker rejects a whole batch, good messages included)
        await asyncio.wait_for(producer.send(topic, b"ok", "k", {"h": b"v"}), 10)
    finally:
        await producer.close()
    assert by_producer.value.too_large
    assert by_broker.value.too_large
    assert topic in str(by_broker.value)
    (message,) = read_topic(kafka_broker, topic, 1)
    assert (message.key(), message.value(), message.headers()) == (b"k", b"ok", [("h", b"v")])
