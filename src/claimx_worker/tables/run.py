"""``claimx-worker tables run``: the table writer on the Kafka runtime, in its own consumer
group, with its own metrics server."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping

import attrs
from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker._version import __version__
from claimx_worker.kafka import KafkaRuntimeError, MissingTopicsError
from claimx_worker.kafka.run import event_loop_factory, run_worker
from claimx_worker.kafka.settings import KafkaSettings
from claimx_worker.observability.health import HealthState
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.metrics import register_process_metrics
from claimx_worker.observability.redaction import Redactor
from claimx_worker.observability.server import start_observability_server
from claimx_worker.observability.settings import (
    LoggingSettings,
    MetricsSettings,
    cannot_listen,
)
from claimx_worker.tables.metrics import TablesMetrics
from claimx_worker.tables.settings import TablesSettings
from claimx_worker.tables.writer import OnWritten, TablesWriter


def writer_kafka_settings(kafka: KafkaSettings, tables: TablesSettings) -> KafkaSettings:
    """The runtime settings of the table writer: the entity-rows topic as its input, its own
    consumer group and DLQ topic, no retry topics (a failed write is retried in place), and room
    in flight for two batches."""
    worker = kafka.worker
    enriched = worker.topics.enriched
    topics = attrs.evolve(
        worker.topics,
        pending=enriched,
        downloads=enriched,
        dlq=tables.dlq_topic,
        actions_dlq=tables.dlq_topic,
    )
    in_flight = max(worker.processing.max_in_flight, 2 * tables.batch_max_rows)
    processing = attrs.evolve(
        worker.processing,
        plugins_dir="",
        retry_delays=(),
        max_in_flight=in_flight,
        low_water_mark=in_flight // 2,
        drain_deadline_seconds=max(
            worker.processing.drain_deadline_seconds, 2 * tables.batch_max_seconds
        ),
    )
    writer = attrs.evolve(
        worker, consumer_group=tables.consumer_group, topics=topics, processing=processing
    )
    return attrs.evolve(kafka, claimx=attrs.evolve(kafka.claimx, enrichment_worker=writer))


async def serve_tables(
    kafka: KafkaSettings,
    tables: TablesSettings,
    *,
    registry: CollectorRegistry,
    redactor: Redactor,
    on_written: OnWritten | None = None,
) -> None:
    """Open the tables, then write them from the entity-rows topic until SIGTERM or SIGINT."""
    metrics = TablesMetrics(registry)
    writer = await asyncio.to_thread(TablesWriter, tables, metrics=metrics, on_written=on_written)
    logger.bind(
        location=redactor.redact(tables.location),
        group=tables.consumer_group,
        topic=kafka.worker.topics.enriched,
    ).info("Table writer started")
    await run_worker(
        writer_kafka_settings(kafka, tables),
        writer.processor(),
        registry=registry,
        redactor=redactor,
    )


def run_tables(
    kafka: KafkaSettings,
    tables: TablesSettings,
    *,
    metrics: MetricsSettings,
    logging: LoggingSettings,
    secrets: Collection[str],
    sources: Mapping[str, str] | None = None,
    on_written: OnWritten | None = None,
) -> int:
    """Run the table writer until a signal; the exit status (2: the metrics server cannot listen
    or topics are missing, 1: a fatal Kafka error). ``sources`` names where each setting came
    from (for a start-up error); ``on_written`` (optional) is called after each batch's Delta
    commits."""
    redactor = Redactor([*secrets, *tables.storage_options.values()])
    configure_logging(redactor=redactor, level=logging.level, fmt=logging.format)
    registry = CollectorRegistry()
    health = HealthState()
    register_process_metrics(registry, version=__version__, health=health)
    loop = event_loop_factory(kafka.worker.processing.event_loop)
    try:
        server = start_observability_server(metrics.port, registry, health, host=metrics.host)
    except OSError as exc:  # as ``claimx-worker run`` reports it
        setting, message = cannot_listen(metrics, exc)
        source = (sources or {}).get(setting, "default")
        logger.bind(setting=setting, source=source).error("Cannot start: {}: {}", setting, message)
        return 2
    try:
        with server, asyncio.Runner(loop_factory=loop) as runner:
            runner.run(
                serve_tables(
                    kafka, tables, registry=registry, redactor=redactor, on_written=on_written
                )
            )
    except MissingTopicsError as exc:
        logger.bind(topics=",".join(exc.topics)).error(
            "Missing Kafka topics: create them, or set kafka.create_topics: true (local use)"
        )
        return 2
    except KafkaRuntimeError as exc:
        logger.bind(error=str(exc)).error("Kafka runtime stopped on a fatal error")
        return 1
    logger.info("Table writer stopped")
    return 0
