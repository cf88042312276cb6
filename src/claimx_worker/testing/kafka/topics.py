"""Topics on the test broker: what to create (:class:`TopicSpec`), and uniquely named topics
for tests (:class:`TopicFactory`)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import attrs
from confluent_kafka import KafkaException
from loguru import logger

from claimx_worker.testing.kafka.errors import KafkaBrokerError

if TYPE_CHECKING:
    from claimx_worker.testing.kafka.cluster import KafkaBroker

_TOPIC_ILLEGAL = re.compile(r"[^a-zA-Z0-9._-]")
_MAX_TOPIC_LEN = 249


@attrs.frozen
class TopicSpec:
    """A topic to create; ``partitions=None`` takes the default of the call."""

    name: str
    partitions: int | None = None
    config: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def parse(cls, text: str) -> TopicSpec:
        """Parse ``NAME`` or ``NAME:PARTITIONS`` (the CLI's ``--create-topic`` syntax)."""
        name, sep, count = text.rpartition(":")
        if not sep:
            name, count = text, ""
        if not name or _TOPIC_ILLEGAL.search(name) or len(name) > _MAX_TOPIC_LEN:
            raise ValueError(f"not a valid topic name: {name!r}")
        if not count:
            return cls(name)
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"partitions must be a positive integer, got {count!r}")
        return cls(name, int(count))


def topic_specs(
    topics: str | TopicSpec | Iterable[str | TopicSpec],
    partitions: int,
    config: Mapping[str, str] | None,
) -> list[TopicSpec]:
    """``topics`` (a name, a spec or an iterable of either) as specs, ``partitions`` and
    ``config`` filled in where a spec does not say."""
    items: Iterable[str | TopicSpec] = [topics] if isinstance(topics, str | TopicSpec) else topics
    specs: list[TopicSpec] = []
    for item in items:
        spec = TopicSpec(item) if isinstance(item, str) else item
        specs.append(
            TopicSpec(
                spec.name,
                spec.partitions if spec.partitions is not None else partitions,
                {**(config or {}), **spec.config},
            )
        )
    return specs


class TopicFactory:
    """Creates uniquely named topics (``<prefix>.<random>``); :meth:`cleanup` deletes them."""

    def __init__(self, broker: KafkaBroker, prefix: str = "test") -> None:
        self.broker = broker
        self.prefix = (_TOPIC_ILLEGAL.sub("_", prefix) or "test")[:200]
        self.created: list[str] = []

    def __call__(
        self,
        partitions: int = 1,
        *,
        name: str | None = None,
        config: Mapping[str, str] | None = None,
    ) -> str:
        """Create a topic (a fresh unique name unless ``name``) and return its name."""
        topic = name or f"{self.prefix}.{uuid.uuid4().hex[:12]}"
        self.broker.create_topics(TopicSpec(topic, partitions, dict(config or {})))
        self.created.append(topic)
        return topic

    def cleanup(self, timeout: float = 10.0) -> None:
        """Delete the topics this factory created; errors are logged, not raised."""
        created, self.created = self.created, []
        try:
            self.broker.delete_topics(created, timeout=timeout)
        except (KafkaBrokerError, KafkaException) as exc:
            logger.warning("Could not delete test topics {}: {}", created, exc)
