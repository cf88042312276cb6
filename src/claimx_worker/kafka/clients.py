"""librdkafka settings of the runtime's clients: the consumer, the producer and the admin client of
the topic check, each from the worker's Kafka settings with the runtime's fixed settings on top."""

from __future__ import annotations

import logging
from typing import Any

from claimx_worker.kafka.settings import KafkaSettings

LIBRDKAFKA_LOGGER = logging.getLogger("librdkafka")
"""librdkafka's own log lines go through :mod:`logging` into the worker's log format."""


def consumer_config(settings: KafkaSettings) -> dict[str, Any]:
    """librdkafka consumer settings: ``common`` + ``consumer`` properties, with the runtime's
    fixed settings (group, manual offset management) on top."""
    return {
        "auto.offset.reset": "earliest",
        **settings.common,
        **settings.consumer,
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": settings.worker.consumer_group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "logger": LIBRDKAFKA_LOGGER,
    }


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
