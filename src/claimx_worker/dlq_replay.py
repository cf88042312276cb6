"""``claimx-worker dlq replay``: settings, plugin instances, Kafka clients and HTTP client
around :func:`~claimx_worker.actions.replay.replay_dead_letters` (the action DLQ) and
:func:`~claimx_worker.kafka.event_replay.replay_events` (the event DLQ: the topic is the
settings' ``topics.dlq``, by default ``claimx.enrichment.dlq``, or ``--kind events``).

Each action record is replayed within its instance's current configuration
(:class:`~claimx_worker.actions.dead_letter.ReplayScope`): the variables that instance's
``config.yaml`` refers to, the endpoints of the URLs and the strings (topics) it holds once
expanded, the named connections (``<plugins_dir>/connections/``) it names under a key
``connection``, plus ``--allow-destination`` / ``--allow-topic``. Connection problems stop the
command before it reads anything, at their file and line.

Exit codes: 0 every record replayed was delivered (or, with ``--dry-run``, listed); 1 some went
back to the DLQ or could not be replayed, or a DLQ write failed; 2 bad settings, a missing topic
or an unset variable a record refers to.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import attrs
from prometheus_client import CollectorRegistry

from claimx_worker.actions.executor import ActionExecutor, DeadLetterWriteError
from claimx_worker.actions.replay import Echo, ReplaySummary, replay_dead_letters
from claimx_worker.actions.secrets import secret_refs_from_environ
from claimx_worker.actions.settings import DEFAULT_DLQ_TOPIC, ActionSettings
from claimx_worker.config.problems import ConfigError
from claimx_worker.http.connections import Connection, load_connections
from claimx_worker.http.exchange import webhook_exchange
from claimx_worker.kafka.clients import LIBRDKAFKA_LOGGER
from claimx_worker.kafka.dead_letters import ReplayError
from claimx_worker.kafka.event_replay import EventReplaySummary, EventSelection, replay_events
from claimx_worker.kafka.producer import DeliveryProducer
from claimx_worker.kafka.settings import ProcessingSettings, TopicSettings
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.redaction import Redactor
from claimx_worker.replay_scopes import replay_scopes
from claimx_worker.settings import load_worker_config

USAGE_EXIT_CODE = 2
_FLUSH_SECONDS = 30.0


class DeadLetterKind(enum.StrEnum):
    """What a DLQ topic holds."""

    ACTIONS = "actions"
    """Plugin actions (JSON records): run again."""
    EVENTS = "events"
    """ClaimX events: put back onto the input topic."""


@attrs.frozen(kw_only=True)
class ReplayOptions:
    """The command's options."""

    topic: str | None = None
    """Default: the settings' ``actions_dlq`` topic, else ``claimx.actions.dlq``."""
    kind: DeadLetterKind | None = None
    """Default: events for the settings' event DLQ topic, actions for any other."""
    selection: EventSelection = attrs.field(factory=EventSelection)
    """Event DLQ only: which events to replay."""
    dry_run: bool = False
    config: Path | None = None
    bootstrap_servers: str | None = None
    """Overrides the settings file (the CLI reads ``KAFKA_BOOTSTRAP_SERVERS`` into it)."""
    max_records: int | None = None
    group: str
    plugins_dir: Path | None = None
    """Default: the settings' ``plugins_dir``, else ``plugins/config``."""
    allowed_destinations: tuple[str, ...] = ()
    """Endpoints (``scheme://host[:port]``) any record may be sent to."""
    allowed_topics: tuple[str, ...] = ()
    """Topics any record may be published to."""


@attrs.frozen(kw_only=True)
class _Setup:
    topic: str
    kind: DeadLetterKind
    input_topic: str
    actions: ActionSettings
    consumer: dict[str, Any] = attrs.field(repr=False)
    producer: dict[str, Any] = attrs.field(repr=False)
    secrets: frozenset[str] = attrs.field(repr=False)
    """The secrets of the settings file and of the connections."""
    plugins_dir: Path
    connections: Mapping[str, Connection] = attrs.field(repr=False)


class _UsageError(Exception):
    pass


def run_replay(options: ReplayOptions, *, environ: Mapping[str, str], echo: Echo, err: Echo) -> int:
    """Run the command; return its exit code. ``echo`` prints results, ``err`` problems."""
    try:
        setup = _setup(options, environ)
    except _UsageError as exc:
        err(f"error: {exc}")
        return USAGE_EXIT_CODE
    refs = secret_refs_from_environ(setup.secrets, environ)
    configure_logging(redactor=Redactor([*setup.secrets, *refs]))
    try:
        if setup.kind is DeadLetterKind.EVENTS:
            events = asyncio.run(_replay_events(options, setup, echo))
        else:
            summary = asyncio.run(_replay(options, setup, refs, environ, echo))
    except ReplayError as exc:
        err(f"error: {exc}")
        return USAGE_EXIT_CODE
    except DeadLetterWriteError as exc:
        err(f"error: {exc}")
        return 1
    verb = "listed" if options.dry_run else "replayed"
    if setup.kind is DeadLetterKind.EVENTS:
        err(
            f"{events.records} event record(s) read: {events.replayed} {verb} onto "
            f"{setup.input_topic}, {events.skipped} skipped by the selection, "
            f"{events.unreplayable} not replayable"
        )
        return 0 if events.unreplayable == 0 else 1
    err(
        f"{summary.records} record(s) {verb}: {summary.delivered} delivered, "
        f"{summary.dead_lettered} dead-lettered again, {summary.unreplayable} not replayable"
    )
    return 0 if summary.dead_lettered == summary.unreplayable == 0 else 1


def _setup(options: ReplayOptions, environ: Mapping[str, str]) -> _Setup:
    common: dict[str, Any] = {}
    consumer: dict[str, Any] = {}
    producer: dict[str, Any] = {}
    servers = options.bootstrap_servers
    topic = options.topic
    secrets: frozenset[str] = frozenset()
    actions = ActionSettings()
    plugins_dir = ProcessingSettings().plugins_dir
    topics = TopicSettings()
    if options.config is not None:
        try:
            loaded = load_worker_config(options.config, environ)
        except ConfigError as exc:
            raise _UsageError(str(exc)) from None
        kafka = loaded.value.kafka
        common, consumer, producer = kafka.common, kafka.consumer, kafka.producer
        servers = servers or kafka.bootstrap_servers
        topics = kafka.worker.topics
        topic = topic or topics.actions_dlq
        secrets = loaded.secrets
        actions = loaded.value.actions
        plugins_dir = kafka.worker.processing.plugins_dir
    if not servers:
        raise _UsageError("no Kafka: give --bootstrap-servers, KAFKA_BOOTSTRAP_SERVERS or --config")
    topic = topic or DEFAULT_DLQ_TOPIC
    kind = options.kind or (
        DeadLetterKind.EVENTS if topic == topics.dlq else DeadLetterKind.ACTIONS
    )
    if kind is DeadLetterKind.ACTIONS and options.selection != EventSelection():
        raise _UsageError(
            f"{topic} holds actions: --category, --event-type, --since and "
            "--until select events of the event DLQ"
        )
    base = {**common, "bootstrap.servers": servers, "logger": LIBRDKAFKA_LOGGER}
    plugins_path = options.plugins_dir or Path(plugins_dir)
    catalog = load_connections(plugins_path, env=environ)
    if catalog.problems:
        error = ConfigError(catalog.problems).redacted(Redactor(catalog.secrets).redact)
        raise _UsageError(str(error))
    return _Setup(
        topic=topic,
        kind=kind,
        input_topic=topics.pending,
        actions=actions,
        consumer={**base, **consumer, "group.id": options.group},
        producer={"enable.idempotence": True, **base, **producer},
        secrets=secrets | catalog.secrets,
        plugins_dir=plugins_path,
        connections=catalog.connections,
    )


async def _replay(
    options: ReplayOptions,
    setup: _Setup,
    refs: Mapping[str, str],
    environ: Mapping[str, str],
    echo: Echo,
) -> ReplaySummary:
    scopes = replay_scopes(
        setup.plugins_dir,
        environ,
        setup.actions,
        connections=setup.connections,
        destinations=options.allowed_destinations,
        topics=options.allowed_topics,
    )
    async with _executor(options, setup, refs) as executor:
        return await replay_dead_letters(
            setup.consumer,
            topic=setup.topic,
            executor=executor,
            scopes=scopes,
            max_records=options.max_records,
            echo=echo,
        )


async def _replay_events(options: ReplayOptions, setup: _Setup, echo: Echo) -> EventReplaySummary:
    async with _producer(None if options.dry_run else setup.producer) as producer:
        return await replay_events(
            setup.consumer,
            topic=setup.topic,
            input_topic=setup.input_topic,
            producer=producer,
            selection=options.selection,
            max_records=options.max_records,
            echo=echo,
        )


@contextlib.asynccontextmanager
async def _producer(config: Mapping[str, Any] | None) -> AsyncIterator[DeliveryProducer | None]:
    """A started producer (``None`` for ``config`` ``None``), flushed and closed after."""
    if config is None:
        yield None
        return
    producer = DeliveryProducer(dict(config))
    await producer.start()
    try:
        yield producer
    finally:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_FLUSH_SECONDS):
                await producer.flush()
        await producer.close()


@contextlib.asynccontextmanager
async def _executor(
    options: ReplayOptions, setup: _Setup, refs: Mapping[str, str]
) -> AsyncIterator[ActionExecutor | None]:
    """The replay's executor and its clients; ``None`` for a dry run."""
    async with _producer(None if options.dry_run else setup.producer) as producer:
        if producer is None:
            yield None
            return
        async with webhook_exchange(
            allowed_destinations=setup.actions.allowed_destinations
        ) as client:
            executor = ActionExecutor(
                setup.actions,
                client=client,
                produce=producer.send,
                registry=CollectorRegistry(),
                dlq_topic=setup.topic,
                secret_refs=refs,
                connections=setup.connections,
            )
            try:
                yield executor
            finally:
                await executor.aclose()
