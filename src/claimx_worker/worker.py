"""``claimx-worker run``: settings, logging, start-up checks, metrics server, plugins, enrichment
and actions, wired onto the Kafka runtime.

Start-up checks, each failure one log line naming the setting to fix: the librdkafka properties
(clients are created, connecting nowhere) and the metrics address first, then, once the plugins
are loaded and before any Kafka client connects, the cluster (it must answer within
``kafka.startup_timeout_seconds``; the plugins are unloaded when it does not).

SIGHUP reloads the configuration (:mod:`claimx_worker.reload`); ``control.pid_file`` names
the file the process id is written to while the worker runs, for ``claimx-worker reload``.

Exit status: 0 after a clean stop (SIGTERM/SIGINT), 2 for invalid settings or plugin
configuration (raised as :class:`~claimx_worker.config.problems.ConfigError` for the CLI to report),
a failed start-up check, missing topics or a bad ``--processor``, 1 on a fatal Kafka error.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker._version import __version__
from claimx_worker.actions import ActionExecutor, secret_refs_from_environ
from claimx_worker.actions.parking import ParkedActions
from claimx_worker.actions.replay import Scopes
from claimx_worker.actions.shadow import ShadowRecorder
from claimx_worker.actions.timing import ActionTimings
from claimx_worker.claimx import Enricher
from claimx_worker.errors import ClaimXWorkerError
from claimx_worker.http.exchange import webhook_exchange
from claimx_worker.kafka import DeliveryProducer, KafkaRuntimeError, MissingTopicsError, Processor
from claimx_worker.kafka.clients import admin_config, consumer_config, producer_config
from claimx_worker.kafka.run import (
    event_loop_factory,
    load_processor_factory,
    resolve_event_loop,
    run_worker,
)
from claimx_worker.kafka.settings import KafkaSettings
from claimx_worker.observability.health import HealthState, run_heartbeat
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.metrics import register_process_metrics
from claimx_worker.observability.redaction import Redactor
from claimx_worker.observability.server import ObservabilityServer, start_observability_server
from claimx_worker.observability.settings import MetricsSettings, cannot_listen
from claimx_worker.observability.status import StatusBoard
from claimx_worker.pipeline import Pipeline
from claimx_worker.plugins.host import PluginHost
from claimx_worker.reload import (
    ConfigurationReloader,
    ReloadSignalError,
    remove_pid_file,
    write_pid_file,
)
from claimx_worker.replay_scopes import replay_scopes
from claimx_worker.settings import LoadedSettings, Override, WorkerSettings, load_worker_config

READINESS_CHECKS = ("plugins_loaded", "broker_reachable", "partitions_assigned")
_PROBE_INTERVAL_SECONDS = 5.0
_ACTION_DRAIN_SECONDS = 10.0
_QUIET = {"log_level": 0}
"""librdkafka properties of the start-up checks' clients: their failures are reported once."""
_PROPERTY = re.compile(r'"([^"]+)"')


class StartupError(ClaimXWorkerError):
    """A start-up check failed; ``setting`` is the dotted key of the setting to fix."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


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
        check_client_properties(settings.kafka)
        with asyncio.Runner(loop_factory=event_loop_factory(event_loop)) as runner:
            reloader = runner.run(_reloader(config, loaded, environ, options, redactor))
            runner.run(_serve(settings, processor_spec, redactor, environ, reloader))
    except StartupError as exc:
        source = loaded.sources.get(exc.setting, "default")
        logger.bind(setting=exc.setting, source=source).error(
            "Cannot start: {}: {}", exc.setting, exc
        )
        return 2
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


async def _reloader(
    config: Path | None,
    loaded: LoadedSettings,
    environ: Mapping[str, str],
    options: Sequence[Override],
    redactor: Redactor,
) -> ConfigurationReloader:
    """The reloader, answering SIGHUP from now on (requests wait until the plugins run)."""
    reloader = ConfigurationReloader(
        read=lambda: load_worker_config(config, environ, options=options),
        loaded=loaded,
        config_file=config,
        environ=environ,
        redactor=redactor,
    )
    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reloader.request)
    return reloader


async def _serve(
    settings: WorkerSettings,
    processor_spec: str | None,
    redactor: Redactor,
    environ: Mapping[str, str],
    reloader: ConfigurationReloader,
) -> None:
    registry = CollectorRegistry()
    health = HealthState()
    health.declare(*READINESS_CHECKS)
    register_process_metrics(registry, version=__version__, health=health)
    reloader.register(registry)
    status = StatusBoard()
    status.provide("config", reloader.status)
    server = _start_server(settings.metrics, registry, health, status)
    logger.bind(url=server.url).info("Serving /metrics, /healthz, /readyz and /status")
    async with contextlib.AsyncExitStack() as background:
        background.callback(server.close)
        _pid_file(settings, background)
        background.push_async_callback(_cancel, asyncio.create_task(run_heartbeat(health)))
        host: PluginHost | None = None
        if processor_spec is None:
            host = await start_plugins(
                settings, registry=registry, redactor=redactor, environ=environ
            )
            status.provide("plugins", host.status)
            await _check_cluster(settings.kafka, unload=host.stop)
            processor = await open_pipeline(
                settings,
                host,
                registry=registry,
                redactor=redactor,
                environ=environ,
                reloader=reloader,
            )
        else:
            factory = load_processor_factory(processor_spec)
            await _check_cluster(settings.kafka)
            made: Any = factory(settings)
            processor = await made if inspect.isawaitable(made) else made
        background.push_async_callback(
            _cancel, asyncio.create_task(_probe_readiness(settings, registry, health))
        )
        background.push_async_callback(_cancel, asyncio.create_task(reloader.serve(host)))
        health.set_check("plugins_loaded", True)
        await run_worker(
            settings.kafka,
            processor,
            registry=registry,
            redactor=redactor,
            on_runtime=lambda runtime: status.provide("partitions", runtime.partitions),
        )


def _pid_file(settings: WorkerSettings, stack: contextlib.AsyncExitStack) -> None:
    """Write ``control.pid_file`` (when set), removed when ``stack`` closes."""
    if not settings.control.pid_file:
        return
    path = Path(settings.control.pid_file)
    try:
        write_pid_file(path)
    except (ReloadSignalError, OSError) as exc:
        raise StartupError("control.pid_file", str(exc)) from None
    stack.callback(remove_pid_file, path)


def check_client_properties(kafka: KafkaSettings) -> None:
    """Create and drop a consumer and a producer with the settings' librdkafka properties,
    connecting to nothing; raises :class:`StartupError` naming ``kafka.common``,
    ``kafka.consumer`` or ``kafka.producer`` for a misspelt property or a bad value."""
    for client, config in (
        ("consumer", consumer_config(kafka)),
        ("producer", producer_config(kafka)),
    ):
        properties = {
            key: value
            for key, value in config.items()
            if key not in ("bootstrap.servers", "logger")
        }
        try:
            made = (Consumer if client == "consumer" else Producer)({**properties, **_QUIET})
        except (KafkaException, ValueError, TypeError) as exc:
            reason = _kafka_reason(exc)
            raise StartupError(_property_setting(kafka, client, reason), reason) from None
        if isinstance(made, Consumer):
            made.close()


def check_cluster(kafka: KafkaSettings) -> None:
    """Ask the cluster for its topics; raises :class:`StartupError` naming
    ``kafka.bootstrap_servers`` when no broker answers within ``kafka.startup_timeout_seconds``."""
    admin = AdminClient({**admin_config(kafka), **_QUIET})
    try:
        admin.list_topics(timeout=kafka.startup_timeout_seconds)
    except KafkaException as exc:
        raise StartupError(
            "kafka.bootstrap_servers",
            f"no Kafka broker answered at {kafka.bootstrap_servers} within "
            f"{kafka.startup_timeout_seconds:g} s: {_kafka_reason(exc)}",
        ) from None


async def _check_cluster(
    kafka: KafkaSettings, *, unload: Callable[[], Awaitable[None]] | None = None
) -> None:
    """:func:`check_cluster` off the event loop; on failure, ``unload`` (the plugins started
    before it) runs first."""
    try:
        await asyncio.to_thread(check_cluster, kafka)
    except StartupError:
        if unload is not None:
            await unload()
        raise


def _kafka_reason(exc: Exception) -> str:
    error = exc.args[0] if exc.args else exc
    return error.str() if isinstance(error, KafkaError) else str(error)


def _property_setting(kafka: KafkaSettings, client: str, reason: str) -> str:
    """The settings key holding the property ``reason`` names (the client's own, else
    ``common``)."""
    match = _PROPERTY.search(reason)
    name = match.group(1) if match is not None else None
    own: Mapping[str, Any] = getattr(kafka, client)
    if name in own:
        return f"kafka.{client}"
    if name in kafka.common or (name is None and kafka.common):
        return "kafka.common"
    return f"kafka.{client}"


def _start_server(
    metrics: MetricsSettings, registry: CollectorRegistry, health: HealthState, status: StatusBoard
) -> ObservabilityServer:
    """The observability server; :class:`StartupError` when it cannot listen."""
    try:
        return start_observability_server(
            metrics.port, registry, health, host=metrics.host, status=status
        )
    except OSError as exc:
        raise StartupError(*cannot_listen(metrics, exc)) from None


async def start_plugins(
    settings: WorkerSettings,
    *,
    registry: CollectorRegistry,
    redactor: Redactor,
    environ: Mapping[str, str],
) -> PluginHost:
    """Load the plugin instances and call their ``on_load``; their secrets go to ``redactor``.

    Raises :class:`~claimx_worker.config.problems.ConfigError` for an invalid plugin
    configuration or an ``on_load`` that raised or ran out of time.
    """
    processing = settings.kafka.worker.processing
    plugins_dir = Path(processing.plugins_dir) if processing.plugins_dir else None
    host = PluginHost.load(
        plugins_dir,
        env=environ,
        registry=registry,
        budget_ms=processing.plugin_timeout_ms,
        lifecycle_budget_seconds=processing.plugin_lifecycle_timeout_seconds,
        settings=settings.plugins,
        redactor=redactor,
    )
    await host.start()
    return host


async def open_pipeline(
    settings: WorkerSettings,
    host: PluginHost,
    *,
    registry: CollectorRegistry,
    redactor: Redactor,
    environ: Mapping[str, str],
    reloader: ConfigurationReloader | None = None,
) -> Processor[Any]:
    """Open the API client, the producer and the action executor around the started ``host``;
    the processor. Everything, the plugins included, is closed by the processor's ``on_stop``.
    The secrets of instances a ``reloader`` loads later are kept out of DLQ and shadow records,
    and the connections and replay scopes it loads are used from then on.
    """
    resources = contextlib.AsyncExitStack()
    resources.push_async_callback(host.stop)
    enricher = Enricher.from_settings(settings.claimx_api, registry=registry)
    resources.push_async_callback(enricher.aclose)
    producer = DeliveryProducer(producer_config(settings.kafka))
    await producer.start()
    resources.push_async_callback(_close_producer, producer)
    client = webhook_exchange(allowed_destinations=settings.actions.allowed_destinations)
    resources.push_async_callback(client.aclose)
    topics = settings.kafka.worker.topics
    executor = ActionExecutor(
        settings.actions,
        client=client,
        produce=producer.send,
        registry=registry,
        dlq_topic=topics.actions_dlq,
        park_topic=topics.actions_retry,
        secret_refs=secret_refs_from_environ(redactor.secrets, environ),
        connections=host.connections,
    )
    resources.push_async_callback(executor.aclose)
    resources.push_async_callback(executor.drain, _ACTION_DRAIN_SECONDS)
    plugins_dir = settings.kafka.worker.processing.plugins_dir

    def current_scopes() -> Scopes:
        if not plugins_dir:
            return Scopes(by_instance={}, environ=environ)
        return replay_scopes(
            Path(plugins_dir), environ, settings.actions, connections=host.connections
        )

    parked = ParkedActions(settings.kafka, executor, current_scopes(), redactor=redactor)
    try:
        await parked.start()
    except BaseException:
        await resources.aclose()
        raise
    resources.push_async_callback(parked.stop)
    shadow = ShadowRecorder(
        settings.actions,
        topic=settings.plugins.shadow_topic,
        produce=producer.send,
        registry=registry,
        secret_refs=secret_refs_from_environ(redactor.secrets, environ),
    )
    if reloader is not None:
        reloader.on_secrets(executor.add_secret_refs)
        reloader.on_secrets(shadow.add_secret_refs)
        reloader.on_plugins_reloaded(lambda: executor.use_connections(host.connections))
        reloader.on_plugins_reloaded(lambda: parked.use_scopes(current_scopes()))
    pipeline = Pipeline(
        topics=settings.kafka.worker.topics,
        host=host,
        enricher=enricher,
        executor=executor,
        shadow=shadow,
        timings=ActionTimings(registry),
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
