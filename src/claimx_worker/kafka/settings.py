"""Settings of the Kafka runtime: the ``kafka:`` section of the worker settings file.

::

    kafka:
      bootstrap_servers, common, consumer, producer, create_topics, topic_partitions, ...
      claimx:
        enrichment_worker:
          consumer_group, topics: {...}, processing: {...}
"""

from __future__ import annotations

import enum
import importlib.util
import re
from collections.abc import Mapping
from typing import Any

import attrs
from attrs import field, frozen, validators

from claimx_worker.config.problems import ConfigValueError

_DELAY = re.compile(r"(\d+)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_delay(text: str) -> float:
    """Seconds in a retry delay written ``<integer><unit>``, unit ``ms``, ``s``, ``m`` or ``h``.

    Raises :class:`ValueError` for anything else (``"5m"`` is 300.0; ``"5"`` is an error).
    """
    match = _DELAY.fullmatch(text)
    if match is None or int(match.group(1)) == 0:
        raise ConfigValueError(
            f"not a retry delay: {text!r} (write a positive integer and a unit: 500ms, 30s, 5m, 1h)"
        )
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _check_delays(_: object, attribute: attrs.Attribute[Any], delays: tuple[str, ...]) -> None:
    try:
        for delay in delays:
            parse_delay(delay)
    except ConfigValueError as error:
        raise ConfigValueError(str(error), key=attribute.name) from None
    if len(set(delays)) != len(delays):
        raise ConfigValueError(
            f"retry delays must be distinct (one topic each): {list(delays)}", key=attribute.name
        )


def _check_properties(_: object, attribute: attrs.Attribute[Any], props: Mapping[str, Any]) -> None:
    for key, value in props.items():
        if not isinstance(value, str | int | float | bool):
            raise ConfigValueError(
                f"librdkafka property {key!r} must be a string, number or boolean",
                key=attribute.name,
            )


class EventLoopKind(enum.StrEnum):
    """The asyncio event loop the worker runs on."""

    AUTO = "auto"
    """uvloop when it is installed (it is a dependency except on Windows), else asyncio's."""
    UVLOOP = "uvloop"
    """uvloop; an error when it is not installed."""
    ASYNCIO = "asyncio"
    """The standard library's loop."""


def _check_event_loop(_: object, attribute: attrs.Attribute[Any], kind: EventLoopKind) -> None:
    if kind is EventLoopKind.UVLOOP and importlib.util.find_spec("uvloop") is None:
        raise ConfigValueError(
            "uvloop is not installed: install it, or use auto or asyncio", key=attribute.name
        )


@frozen(kw_only=True)
class TopicSettings:
    """Topic names. Retry topics are ``<retry_prefix>.<delay>``, one per retry delay."""

    pending: str = "claimx.enrichment.pending"
    """The input topic: ClaimX events to enrich."""
    enriched: str = "claimx.enriched"
    """Entity rows, one message per event."""
    downloads: str = "claimx.downloads.pending"
    """Download tasks, one per media row with a download link."""
    retry_prefix: str = "claimx.enrichment.retry"
    """Retry topics are ``<retry_prefix>.<delay>``, one per retry delay (e.g. ``...retry.5m``)."""
    dlq: str = "claimx.enrichment.dlq"
    """Events that failed for good (invalid, permanent error, or every retry used)."""
    actions_dlq: str = "claimx.actions.dlq"
    """Plugin actions that could not be delivered."""
    actions_retry: str = "claimx.actions.retry"
    """Webhook actions parked until their endpoint recovers (keyed by endpoint); the worker
    consumes it in the group ``<consumer_group>.parked-actions``."""


@frozen(kw_only=True)
class ProcessingSettings:
    """How the worker consumes and processes: concurrency, commits, retries, plugins."""

    plugins_dir: str = "plugins/config"
    """Directory of plugin instances (one sub-directory each); ``""`` disables plugins."""
    max_in_flight: int = field(default=2000, validator=validators.gt(0))
    """Events fetched and not yet done; at it the worker stops fetching, and pauses its
    partitions when no event finishes for half a second or the wait passes two seconds."""
    low_water_mark: int | None = None
    """Fetching (and paused partitions) resume at or below this many events in flight.
    ``null``: half of ``max_in_flight``."""
    batch_size: int = field(default=500, validator=validators.gt(0))
    """Messages fetched per ``consume()`` call."""
    fetch_timeout_seconds: float = field(default=0.1, validator=validators.gt(0))
    """How long one fetch waits for a first message when the topics are idle."""
    drain_deadline_seconds: float = field(default=30.0, validator=validators.ge(0))
    """On rebalance and shutdown, how long in-flight events may take to finish."""
    commit_interval_seconds: float = field(default=5.0, validator=validators.gt(0))
    """How often the offsets of finished events are committed."""
    lag_interval_seconds: float = field(default=5.0, validator=validators.gt(0))
    """How often the consumer lag of the assigned partitions is sampled (the group's committed
    offsets and each partition's high watermark, read by a client that never joins the group)."""
    retry_delays: tuple[str, ...] = field(
        default=("5m", "10m", "20m", "40m"), validator=_check_delays
    )
    """Transient failures wait these delays in turn (one retry topic each), then go to the DLQ."""
    plugin_timeout_ms: float = field(default=50.0, validator=validators.gt(0))
    """Time budget of one plugin hook call (an instance's ``timeout_ms`` overrides it)."""
    plugin_lifecycle_timeout_seconds: float = field(default=10.0, validator=validators.gt(0))
    """Time budget of one plugin instance's ``on_load``, ``published_topics`` or ``on_unload``.
    An async one still running then is cancelled (at start, start-up stops)."""
    event_loop: EventLoopKind = field(default=EventLoopKind.AUTO, validator=_check_event_loop)
    """The event loop: ``auto`` (uvloop when installed: less CPU per event), ``uvloop`` or
    ``asyncio``."""

    def __attrs_post_init__(self) -> None:
        low = self.low_water_mark
        if low is not None and not 0 <= low < self.max_in_flight:
            raise ConfigValueError(
                f"low_water_mark must be at least 0 and below max_in_flight ({self.max_in_flight})"
            )

    @property
    def resume_at(self) -> int:
        """The effective low-water mark."""
        return self.max_in_flight // 2 if self.low_water_mark is None else self.low_water_mark

    @property
    def retry_delay_seconds(self) -> tuple[float, ...]:
        """:attr:`retry_delays` in seconds."""
        return tuple(parse_delay(delay) for delay in self.retry_delays)


@frozen(kw_only=True)
class EnrichmentWorkerSettings:
    """``kafka.claimx.enrichment_worker``: the enrichment worker's group, topics and processing."""

    consumer_group: str = "claimx-enrichment-worker"
    """Kafka consumer group; run more workers with the same group to share the partitions."""
    topics: TopicSettings = field(factory=TopicSettings)
    """Topic names."""
    processing: ProcessingSettings = field(factory=ProcessingSettings)
    """Concurrency, commits, retries and plugins."""

    def retry_topics(self) -> dict[str, float]:
        """Retry topic name -> delay in seconds, in retry order."""
        return {
            f"{self.topics.retry_prefix}.{label}": seconds
            for label, seconds in zip(
                self.processing.retry_delays, self.processing.retry_delay_seconds, strict=True
            )
        }


@frozen(kw_only=True)
class ClaimXKafkaSettings:
    """``kafka.claimx``: the ClaimX workers."""

    enrichment_worker: EnrichmentWorkerSettings = field(factory=EnrichmentWorkerSettings)
    """The enrichment worker (``claimx-worker run``)."""


@frozen(kw_only=True)
class KafkaSettings:
    """``kafka``: the cluster, raw librdkafka properties, topic creation and the workers.

    ``common`` properties go to every client, ``consumer`` and ``producer`` ones to that client
    only (overriding ``common``). They are hidden from ``repr`` (they may hold SASL passwords).
    """

    bootstrap_servers: str = "localhost:9092"
    """Kafka brokers to connect to first, ``host:port`` separated by commas."""
    common: dict[str, Any] = field(factory=dict, repr=False, validator=_check_properties)
    """librdkafka properties of every client, e.g. SASL/SSL for Event Hubs or Confluent Cloud."""
    consumer: dict[str, Any] = field(factory=dict, repr=False, validator=_check_properties)
    """librdkafka properties of the consumer only, over ``common``."""
    producer: dict[str, Any] = field(factory=dict, repr=False, validator=_check_properties)
    """librdkafka properties of the producer only, over ``common``."""
    startup_timeout_seconds: float = field(default=30.0, validator=validators.gt(0))
    """How long start-up waits for the cluster to answer before it stops (exit code 2)."""
    create_topics: bool = False
    """Create missing topics at start (local use); otherwise a missing topic stops the worker."""
    topic_partitions: int = field(default=6, validator=validators.gt(0))
    """Partitions of topics created by ``create_topics``."""
    topic_replication_factor: int = field(default=1, validator=validators.gt(0))
    """Replication factor of topics created by ``create_topics``."""
    claimx: ClaimXKafkaSettings = field(factory=ClaimXKafkaSettings)
    """The ClaimX workers."""

    @property
    def worker(self) -> EnrichmentWorkerSettings:
        """Shortcut for ``claimx.enrichment_worker``."""
        return self.claimx.enrichment_worker
