"""Startup check that every topic the worker consumes or produces exists (or creating them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from loguru import logger

from claimx_worker.errors import ClaimXWorkerError


class MissingTopicsError(ClaimXWorkerError):
    """Topics the worker needs do not exist and creating them is off."""

    def __init__(self, topics: Iterable[str]) -> None:
        self.topics = sorted(topics)
        super().__init__(
            f"missing Kafka topic(s): {', '.join(self.topics)}; create them, or set "
            "kafka.create_topics: true to have the worker create them (local use)"
        )


def ensure_topics(
    config: Mapping[str, Any],
    topics: Iterable[str],
    *,
    create: bool,
    partitions: int,
    replication_factor: int,
    timeout: float = 30.0,
) -> list[str]:
    """Check that ``topics`` exist; create the missing ones when ``create``, else raise
    :class:`MissingTopicsError` naming them. Returns the topics created. Blocking.

    ``config`` is a librdkafka client configuration (bootstrap servers, security settings).
    Raises ``KafkaException`` when the cluster cannot be reached within ``timeout``.
    """
    admin = AdminClient(dict(config))
    existing = admin.list_topics(timeout=timeout).topics
    missing = sorted(set(topics) - set(existing))
    if not missing:
        return []
    if not create:
        raise MissingTopicsError(missing)
    futures = admin.create_topics(
        [
            NewTopic(t, num_partitions=partitions, replication_factor=replication_factor)
            for t in missing
        ],
        operation_timeout=timeout,
    )
    for topic, future in futures.items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            error = exc.args[0]
            if not isinstance(error, KafkaError) or error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise  # (another worker creating the same topic is fine)
        logger.bind(topic=topic, partitions=partitions).info("Created Kafka topic")
    return missing
