"""librdkafka settings of the runtime's clients: the consumer, the producer and the admin client of
the topic check, each from the worker's Kafka settings with the runtime's fixed settings on top."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from claimx_worker.kafka.settings import KafkaSettings

LIBRDKAFKA_LOGGER = logging.getLogger("librdkafka")
"""librdkafka's own log lines go through :mod:`logging` into the worker's log format."""

FAST_RECOVERY = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}
"""Consumer defaults under the classic group protocol: a killed worker leaves its group after 6 s
(the broker's default ``group.min.session.timeout.ms``) instead of librdkafka's 45 s, so a
restarted worker processes its partitions again within about 6 s (``bench_recovery.py``, kill -9:
5.3 s, against 44.2 s with librdkafka's defaults, 8.3 s with static membership and 43.6 s with
``group.protocol: consumer``, whose session timeout the broker sets). The cost: a heartbeat a
second to the group coordinator, and a worker whose heartbeats stop for 6 s (a network blip)
is dropped from the group and its partitions rebalanced (its uncommitted events redone)."""


def consumer_config(settings: KafkaSettings) -> dict[str, Any]:
    """librdkafka consumer settings: :data:`FAST_RECOVERY` (unless the consumer group protocol
    is chosen) and the ``common`` + ``consumer`` properties, with the runtime's fixed settings
    (group, manual offset management) on top."""
    chosen = {**settings.common, **settings.consumer}
    classic = str(chosen.get("group.protocol", "classic")).lower() == "classic"
    return {
        "auto.offset.reset": "earliest",
        **(FAST_RECOVERY if classic else {}),
        **settings.common,
        **settings.consumer,
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": settings.worker.consumer_group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "logger": LIBRDKAFKA_LOGGER,
    }


def incremental_rebalancing(config: Mapping[str, Any]) -> bool:
    """Whether a consumer of ``config`` has partitions assigned incrementally (the
    ``cooperative-sticky`` strategy or the consumer group protocol) rather than all at once."""
    strategy = str(config.get("partition.assignment.strategy", "")).lower()
    protocol = str(config.get("group.protocol", "classic")).lower()
    return "cooperative" in strategy or protocol == "consumer"


def producer_config(settings: KafkaSettings) -> dict[str, Any]:
    """librdkafka producer settings: ``common`` + ``producer`` properties, idempotence forced."""
    return {
        "linger.ms": 5,
        **settings.common,
        **settings.producer,
        "bootstrap.servers": settings.bootstrap_servers,
        "enable.idempotence": True,
        "logger": LIBRDKAFKA_LOGGER,
    }


def admin_config(settings: KafkaSettings) -> dict[str, Any]:
    """librdkafka settings for the topic check: ``common`` properties and the servers."""
    return {
        **settings.common,
        "bootstrap.servers": settings.bootstrap_servers,
        "logger": LIBRDKAFKA_LOGGER,
    }
