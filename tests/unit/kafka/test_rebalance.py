"""How the "Partitions assigned" line names where each partition starts."""

from __future__ import annotations

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, OFFSET_INVALID, TopicPartition

from claimx_worker.kafka.rebalance import _describe


def test_start_offsets_are_numbers_or_named_for_librdkafkas_logical_ones() -> None:
    starts = [
        TopicPartition("claimx.enriched", 0, 1870),
        TopicPartition("claimx.enriched", 1, OFFSET_INVALID),
        TopicPartition("claimx.enriched", 2, OFFSET_BEGINNING),
        TopicPartition("claimx.enriched", 3, OFFSET_END),
    ]

    assert _describe(starts, offsets=True) == (
        "claimx.enriched[0]@1870,claimx.enriched[1]@auto.offset.reset,"
        "claimx.enriched[2]@beginning,claimx.enriched[3]@end"
    )
    assert _describe(starts) == (
        "claimx.enriched[0],claimx.enriched[1],claimx.enriched[2],claimx.enriched[3]"
    )
