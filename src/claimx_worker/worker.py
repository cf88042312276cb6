"""``claimx-worker run``: settings, logging, metrics server, plugins, enrichment and actions,
wired onto the Kafka runtime.

Exit status: 0 after a clean stop (SIGTERM/SIGINT), 2 for invalid settings or plugin
configuration (raised as :class:`~claimx_worker.config.problems.ConfigError` for the CLI to report),
missing topics or a bad ``--processor``, 1 on a fatal Kafka error.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient
from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker._version import __version__
from claimx_worker.actions import ActionExecutor, secret_refs_from_environ
from claimx_worker.claimx import Enricher
from claimx_worker.http.transport import webhook_client
from claimx_worker.kafka import DeliveryProducer, KafkaRuntimeError, MissingTopicsError, Processor
from claimx_worker.kafka.clients import admin_config, producer_config
from claimx_worker.kafka.run import (
    event_loop_factory,
    load_processor_factory,
    resolve_event_loop,
    run_worker,
)
from claimx_worker.observability.health import HealthState, run_heartbeat
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.metrics import register_process_metrics
from claimx_worker.observability.redaction import Redactor
from claimx_worker.observability.server import start_observability_server
from claimx_worker.pipeline import Pipeline
from claimx_worker.plugins.host import PluginHost
from claimx_worker.settings import Override, WorkerSettings, load_worker_config

READINESS_CHECKS = ("plugins_loaded", "broker_reachable", "partitions_assigned")
_PROBE_INTERVAL_SECONDS = 5.0
_ACTION_DRAIN_SECONDS = 10.0


def run_from_config(
    config: Path | None,
    processor_spec: str | None,
    environ: Mapping[str, str],
    *,
    options: Sequence[Override] = (),
) -> int:
    """Run the worker until a signal; return the exit status (see the module docstring).

    Settings come from the defaults, ``config`` (``None``: no file), ``environ`` and
    ``options``. ``processor_spec`` (``module:function``, called with the settings) replaces
    the ClaimX pipeline with another processor, for tests and special deployments.
    """
    loaded = load_worker_config(config, environ, options=options)
    settings = loaded.value
    redactor = Redactor([*loaded.secrets, settings.claimx_api.token])
    configure_logging(redactor=redactor, level=settings.logging.level, fmt=settings.logging.format)
    worker = settings.kafka.worker
    event_loop = resolve_event_loop(worker.processing.event_loop)
    logger.bind(
        version=__version__,
        config=str(config) if config is not None else "(none)",
        plugins_dir=worker.processing.plugins_dir or "(plugins disabled)",
        input_topic=worker.topics.pending,
        group=worker.consumer_group,
        bootstrap_servers=settings.kafka.bootstrap_servers,
        event_loop=str(event_loop),
    ).info("Starting claimx-worker")
    try:
        with asyncio.Runner(loop_factory=event_loop_factory(event_loop)) as runner:
            runner.run(_serve(settings, processor_spec, redactor, environ))
    except MissingTopicsError as exc:
        logger.bind(topics=",".join(exc.topics)).error(
            "Missing Kafka topics: create them, or set kafka.create_topics: true (local use)"
        )
        return 2
    except ValueError as exc:  # a bad --processor
        logger.bind(processor=processor_spec).error("Cannot load the processor: {}", exc)
        return 2
    except KafkaRuntimeError as exc:
        logger.bind(error=str(exc)).error("Kafka runtime stopped on a fatal error")
        return 1
    logger.info("claimx-worker stopped")
    return 0


async def _serve(
    settings: WorkerSettings,
    processor_spec: str | None,
    redactor: Redactor,
    environ: Mapping[str, str],
) -> None:
    registry = CollectorRegistry()
    health = HealthState()
    health.declare(*READINESS_CHECKS)
    register_process_metrics(registry, version=__version__, health=health)
    server = start_observability_server(
        settings.metrics.port, registry, health, host=settings.metrics.host
    )
    logger.bind(url=server.url).info("Serving /metrics, /healthz and /readyz")
    async with contextlib.AsyncExitStack() as background:
        background.push_async_callback(_cancel, asyncio.create_task(run_heartbeat(health)))
        background.push_async_callback(
            _cancel, asyncio.create_task(_probe_readiness(settings, registry, health))
        )
        background.callback(server.close)
        if processor_spec is None:
            processor = await open_pipeline(
                settings, registry=registry, redactor=redactor, environ=environ
            )
        else:
            made: Any = load_processor_factory(processor_spec)(settings)
            processor = await made if inspect.isawaitable(made) else made
        health.set_check("plugins_loaded", True)
        await run_worker(settings.kafka, processor, registry=registry, redactor=redactor)


async def open_pipeline(
    settings: WorkerSettings,
    *,
    registry: CollectorRegistry,
    redactor: Redactor,
    environ: Mapping[str, str],
) -> Processor[Any]:
    """Load and start the plugins, open the API client and the action executor; the processor.

    Raises :class:`~claimx_worker.config.problems.ConfigError` for an invalid plugin
    configuration or an ``on_load`` that raised or ran out of time. Everything opened here is
    closed by the processor's ``on_stop``.
    """
    processing = settings.kafka.worker.processing
    plugins_dir = Path(processing.plugins_dir) if processing.plugins_dir else None
    host = PluginHost.load(
        plugins_dir,
        env=environ,
        registry=registry,
        budget_ms=processing.plugin_timeout_ms,
        lifecycle_budget_seconds=processing.plugin_lifecycle_timeout_seconds,
    )
    redactor.add(*host.secrets)
    await host.start()
    for instance in host.instances:
        logger.bind(
            instance=instance.name, plugin=instance.origin, priority=instance.spec.priority
        ).info("Plugin instance loaded")
    resources = contextlib.AsyncExitStack()
    resources.push_async_callback(host.stop)
    enricher = Enricher.from_settings(settings.claimx_api, registry=registry)
    resources.push_async_callback(enricher.aclose)
    producer = DeliveryProducer(producer_config(settings.kafka))
    await producer.start()
    resources.push_async_callback(_close_producer, producer)
    client = webhook_client(
        max_keepalive=settings.actions.endpoint_max_in_flight,
        allowed_destinations=settings.actions.allowed_destinations,
    )
    resources.push_async_callback(client.aclose)
    executor = ActionExecutor(
        settings.actions,
        client=client,
        produce=producer.send,
        registry=registry,
        dlq_topic=settings.kafka.worker.topics.actions_dlq,
        secret_refs=secret_refs_from_environ(redactor.secrets, environ),
    )
    resources.push_async_callback(executor.aclose)
    resources.push_async_callback(executor.drain, _ACTION_DRAIN_SECONDS)
    pipeline = Pipeline(
        topics=settings.kafka.worker.topics,
        host=host,
        enricher=enricher,
        executor=executor,
        on_stop=resources.aclose,
    )
    return pipeline.processor()


async def _close_producer(producer: DeliveryProducer) -> None:
    await producer.flush()
    await producer.close()


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _probe_readiness(
    settings: WorkerSettings, registry: CollectorRegistry, health: HealthState
) -> None:
    """Keep the ``broker_reachable`` and ``partitions_assigned`` readiness checks current."""
    admin = AdminClient(admin_config(settings.kafka))
    while True:
        reachable = await asyncio.to_thread(_broker_reachable, admin)
        health.set_check("broker_reachable", reachable)
        assigned = registry.get_sample_value("claimx_partitions_assigned") or 0
        health.set_check("partitions_assigned", assigned > 0)
        await asyncio.sleep(_PROBE_INTERVAL_SECONDS)


def _broker_reachable(admin: AdminClient) -> bool:
    try:
        admin.list_topics(timeout=_PROBE_INTERVAL_SECONDS)
    except Exception:
        return False
    return True
