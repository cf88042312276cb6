"""Retry headers are untrusted: forged or mangled ``claimx-*`` headers on a retry topic never
crash the runtime, never hold a partition longer than the topic's delay, and every record is
handled (processed, or dead-lettered with its reason) while the partition keeps moving."""

from __future__ import annotations

import json
import time

import pytest

from claimx_worker.errors import PermanentError
from claimx_worker.kafka import ProcessContext, Processor
from claimx_worker.kafka.routing import Origin
from claimx_worker.testing.kafka import KafkaBroker, TopicFactory
from tests.integration.runtime_support import (
    Record,
    committed,
    headers_of,
    kafka_settings,
    produce,
    read_topic,
    running,
    wait_for,
)
from tests.raw_records import produce_with_raw_header

pytestmark = pytest.mark.kafka

DELAY_SECONDS = 2.0
TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000


def _record(name: str, mode: str, headers: list[tuple[str, str | bytes]] | None) -> Record:
    return b"one-key", json.dumps({"id": name, "mode": mode}).encode(), headers


async def test_forged_retry_headers_are_handled_and_the_partition_keeps_moving(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory
) -> None:
    settings = kafka_settings(kafka_broker, kafka_topic_factory, partitions=1, retry_delays=("2s",))
    topics = settings.worker.topics
    retry_topic = f"{topics.retry_prefix}.2s"
    far_future = str(int(time.time() * 1000) + TEN_YEARS_MS)
    records = [
        _record("digits-400", "ok", [("claimx-attempts", "1"), ("claimx-due-ms", "9" * 400)]),
        _record("ten-years", "ok", [("claimx-due-ms", far_future)]),
        _record("negative", "ok", [("claimx-attempts", "-3"), ("claimx-due-ms", "-5")]),
        _record(
            "mangled",
            "fail",
            [
                ("claimx-attempts", b"\xff\xfe"),
                ("claimx-attempts", "9" * 400),
                ("claimx-due-ms", b"\xff"),
                ("claimx-due-ms", "12_000"),
                ("claimx-original-topic", b"\xc3("),
                ("claimx-original-partition", "-1"),
                ("claimx-original-offset", "9" * 5000),
            ],
        ),
        _record("plain", "ok", None),
    ]
    produce(kafka_broker, retry_topic, records)
    key, value, _ = _record("raw-header", "fail", None)
    raw_header = (b"claimx-\xff\xfe", b"a header name that is not UTF-8")
    produce_with_raw_header(kafka_broker.bootstrap_servers, retry_topic, key, value, raw_header)
    produced_at = time.monotonic()

    seen: dict[str, tuple[int, Origin]] = {}
    own_position: dict[str, Origin] = {}

    async def process(item: dict[str, str], ctx: ProcessContext) -> None:
        seen[item["id"]] = (ctx.attempt, ctx.origin)
        own_position[item["id"]] = Origin(ctx.topic, ctx.partition, ctx.offset)
        if item["mode"] == "fail":
            raise PermanentError(f"refused {item['id']}")
        ctx.produce(topics.enriched, item["id"].encode(), ctx.key)

    processor = Processor(decode=json.loads, process=process)
    async with running(settings, processor) as runtime:
        await wait_for(
            lambda: runtime.metrics.processed_ok == 4 and runtime.metrics.processed["dlq"] == 2,
            "four processed records and two dead letters",
            within=DELAY_SECONDS + 20,
        )
        # held at most the topic's own delay (from when it was fetched), never longer
        assert time.monotonic() - produced_at < DELAY_SECONDS + 10

    assert seen["digits-400"][0] == 2  # "1" earlier attempt: this is the second
    assert seen["ten-years"][0] == 1
    assert seen["negative"][0] == 1  # an unusable attempts value reads as 0
    assert seen["raw-header"] == (1, own_position["raw-header"])
    assert seen["mangled"] == (1, own_position["mangled"])  # unusable origin: the record's own
    assert own_position["mangled"].offset == 3
    outputs = read_topic(kafka_broker, topics.enriched, 4, settle=0.5)
    assert sorted(m.value() or b"" for m in outputs) == [
        b"digits-400",
        b"negative",
        b"plain",
        b"ten-years",
    ]
    dead_letters = {m.value(): m for m in read_topic(kafka_broker, topics.dlq, 2, settle=0.5)}
    # a header name that is not UTF-8: the record reads as one without headers
    raw = dead_letters[value]
    assert headers_of(raw)["claimx-error"] == "refused raw-header"
    assert headers_of(raw)["claimx-original-offset"] == "5"
    assert [name for name, _ in raw.headers() or ()].count("claimx-error") == 1
    dead = dead_letters[records[3][1]]
    headers = headers_of(dead)
    assert headers["claimx-error"] == "refused mangled"
    assert headers["claimx-error-category"] == "permanent"
    assert headers["claimx-attempts"] == "1"
    assert headers["claimx-original-topic"] == retry_topic
    assert headers["claimx-original-offset"] == "3"
    assert [name for name, _ in dead.headers() or ()].count("claimx-due-ms") == 0
    offsets = committed(kafka_broker, settings.worker.consumer_group, retry_topic, 3)
    assert sum(offsets.values()) == len(records) + 1
