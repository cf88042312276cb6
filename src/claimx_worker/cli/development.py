"""Development commands: ``simulate``, ``produce``, ``sandbox up`` (the testing kit is imported
inside them, never at module level)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TextIO

import attrs
import click
from loguru import logger

from claimx_worker.cli.common import (
    CONFIG_EXIT_CODE,
    cli,
    command_settings,
    config_option,
    example_option,
    exit_with_config_error,
    logging_redactor,
    plugins_dir_of,
    plugins_dir_option,
)
from claimx_worker.config.problems import ConfigError
from claimx_worker.errors import InvalidEventError


@cli.command()
@click.argument("event_file", required=False, type=click.File("r", encoding="utf-8"))
@example_option("Print a sample event of TYPE (one of the ten ClaimX event types) and exit.")
@click.option(
    "--enriched",
    is_flag=True,
    help='The file holds {"event": ..., "rows": ...} (with --example: print one).',
)
@click.option(
    "--simulator",
    is_flag=True,
    help="Enrich through the built-in ClaimX API simulator instead of the API (simulated data).",
)
@plugins_dir_option
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the actions as a JSON list.")
@click.option(
    "--explain",
    is_flag=True,
    help="Also say why each instance and rule (e.g. each task trigger) matched or not, with "
    "every condition and the value it saw (with --json: {actions, explain}).",
)
def simulate(
    event_file: TextIO | None,
    example: str | None,
    enriched: bool,
    simulator: bool,
    plugins_dir: str | None,
    config_file: Path | None,
    as_json: bool,
    explain: bool,
) -> None:
    """Dry run: show the actions the plugins would take for one event; run none of them.

    EVENT_FILE (or - for stdin) holds a raw event, enriched through the ClaimX API of the settings
    file (token: CLAIMX_API_TOKEN) or with --simulator, or with --enriched an event and its rows.
    Exit 0 when it ran cleanly, 1 when a plugin hook failed, attempted I/O or enrichment failed,
    2 for an invalid event file or plugin configuration.
    """
    from claimx_worker import simulate as dry

    redactor = logging_redactor()
    if example is not None:
        click.echo(dry.example(example, enriched=enriched))
        return
    if event_file is None:
        raise click.UsageError("give EVENT_FILE (or - for stdin), or --example TYPE")
    try:
        settings = command_settings(config_file, redactor)
        api = settings.claimx_api
        status = dry.run_simulation(
            event_file.read(),
            enriched=enriched,
            plugins_dir=plugins_dir_of(plugins_dir, settings),
            api=None if simulator else api,
            budget_ms=settings.kafka.worker.processing.plugin_timeout_ms,
            as_json=as_json,
            env=os.environ,
            redactor=redactor,
            echo=click.echo,
            note=functools.partial(click.echo, err=True),
            explain=explain,
        )
    except dry.InvalidInputError as error:
        click.echo(redactor.redact(f"Invalid event file {event_file.name}: {error}"), err=True)
        raise SystemExit(CONFIG_EXIT_CODE) from None
    except ConfigError as error:
        exit_with_config_error(error, redactor)
    raise SystemExit(status)


@cli.command()
@click.argument("events_file", required=False, type=click.File("r", encoding="utf-8"))
@example_option("Send sample events of TYPE (as simulate --example shows them), not a file.")
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With --example: how many, one project each (12345, 12346, ...).",
)
@click.option(
    "--first-project",
    type=click.IntRange(min=1),
    default=12345,
    show_default=True,
    help="With --example: the project id of the first event.",
)
@click.option("--topic", help="Topic to send to (default: the settings' input topic).")
@click.option(
    "--bootstrap-servers",
    envvar="KAFKA_BOOTSTRAP_SERVERS",
    help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS, else the settings).",
)
@config_option
def produce(
    events_file: TextIO | None,
    example: str | None,
    count: int,
    first_project: int,
    topic: str | None,
    bootstrap_servers: str | None,
    config_file: Path | None,
) -> None:
    """Send ClaimX events to the worker's input topic, keyed by project id (for development).

    EVENTS_FILE (or - for stdin) holds one event as a JSON object, a JSON array of events, or
    one event per line (JSON lines); every event is checked as the worker parses it before any
    is sent. --example TYPE makes sample events instead: task events whose task template (456)
    and status the API simulator of `claimx-worker sandbox up` serves, so the shipped task
    trigger fires on CUSTOM_TASK_COMPLETED. Exit 2 for an invalid file, 1 when Kafka did not
    acknowledge every event.
    """
    from claimx_worker.kafka.clients import producer_config
    from claimx_worker.kafka.producer import DeliveryError
    from claimx_worker.testing.producing import example_events, produce_messages, read_events

    if example is not None:
        events = example_events(example, count=count, first_project=first_project)
    elif events_file is not None:
        try:
            events = read_events(events_file.read())
        except InvalidEventError as error:
            click.echo(f"Invalid events in {events_file.name}: {error}", err=True)
            raise SystemExit(CONFIG_EXIT_CODE) from None
    else:
        raise click.UsageError("give EVENTS_FILE (or - for stdin), or --example TYPE")
    redactor = logging_redactor()  # librdkafka's complaints, in the worker's format
    try:
        kafka = command_settings(config_file, redactor).kafka
    except ConfigError as error:
        exit_with_config_error(error)
    if bootstrap_servers:
        kafka = attrs.evolve(kafka, bootstrap_servers=bootstrap_servers)
    target = topic or kafka.worker.topics.pending
    try:
        produce_messages(producer_config(kafka), target, ((e.key, e.value) for e in events))
    except DeliveryError as error:
        click.echo(f"Error: {error} (bootstrap servers {kafka.bootstrap_servers})", err=True)
        raise SystemExit(1) from None
    for sent in events:
        event = sent.event
        click.echo(f"Sent {event.event_type} {event.event_id} (project {event.project_id})")
    click.echo(f"{len(events)} event{'s' if len(events) != 1 else ''} sent to {target}.")


@cli.group()
def sandbox() -> None:
    """A local stack to run the worker against (for development)."""


@sandbox.command("up")
@click.option(
    "--kafka-port",
    type=click.IntRange(min=1, max=65535),
    help="Port of the broker it starts (default: a free one).",
)
@click.option(
    "--api-port",
    type=click.IntRange(min=0, max=65535),
    default=0,
    help="Port of the ClaimX API simulator (default: a free one).",
)
@click.option(
    "--webhook-port",
    type=click.IntRange(min=0, max=65535),
    default=0,
    help="Port of the webhook receiver (default: a free one).",
)
@click.option(
    "--create-topic",
    "extra_topics",
    multiple=True,
    metavar="NAME",
    help="Create this topic too (repeatable).",
)
@config_option
def sandbox_up(
    kafka_port: int | None,
    api_port: int,
    webhook_port: int,
    extra_topics: tuple[str, ...],
    config_file: Path | None,
) -> None:
    """Start a Kafka broker, the ClaimX API simulator and a webhook receiver; run until Ctrl-C.

    The broker is Apache Kafka (KRaft, one node) on 127.0.0.1: it needs Java 17+ (java on PATH
    or JAVA_HOME) and Maven (mvn), which resolves Kafka's jars into ~/.cache/claimx-worker/ on
    the first start. With KAFKA_BOOTSTRAP_SERVERS set, that broker is used instead and neither
    is needed. The worker's topics (those of the settings, or the defaults), the shadow topic,
    the table writer's DLQ and the shipped task trigger's claimx.task-triggers are created.

    Prints on stdout the environment that points a worker at the stack, as export lines
    (KAFKA_BOOTSTRAP_SERVERS, CLAIMX_API_URL, CLAIMX_API_TOKEN, TASK_TRIGGER_WEBHOOK_URL,
    DAMAGE_ASSESSMENT_WEBHOOK_URL, WEBHOOK_TOKEN): `claimx-worker sandbox up > sandbox.env`,
    then `. ./sandbox.env` in another shell. Logs on stderr, one line per webhook received.
    Ctrl-C or SIGTERM stops everything; exit 0, or 1 when the broker could not start or exited.
    A walk-through: claimx-worker docs running-locally.
    """
    from claimx_worker.testing.kafka import KafkaBrokerError
    from claimx_worker.testing.sandbox import (
        TASK_TRIGGER_TOPIC,
        Sandbox,
        run_sandbox,
        worker_topics,
    )

    redactor = logging_redactor()
    try:
        settings = command_settings(config_file, redactor)
    except ConfigError as error:
        exit_with_config_error(error)
    topics = [
        *worker_topics(settings.kafka.worker),
        settings.tables.dlq_topic,
        settings.plugins.shadow_topic,
        TASK_TRIGGER_TOPIC,
        *extra_topics,
    ]
    stack = Sandbox(
        topics=topics,
        partitions=settings.kafka.topic_partitions,
        kafka_port=kafka_port,
        api_port=api_port,
        webhook_port=webhook_port,
    )
    try:
        status = run_sandbox(stack, echo=click.echo)
    except KafkaBrokerError as error:
        logger.bind(error=str(error)).error("No Kafka broker")
        status = 1
    raise SystemExit(status)
