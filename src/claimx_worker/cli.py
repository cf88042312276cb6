"""The ``claimx-worker`` command line. Thin: every command calls into the modules."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO, TypeVar

import attrs
import click
from loguru import logger

from claimx_worker._version import __version__
from claimx_worker.actions.settings import DEFAULT_DLQ_TOPIC, DEFAULT_REPLAY_GROUP
from claimx_worker.config.problems import ConfigError
from claimx_worker.errors import InvalidEventError
from claimx_worker.model import EventType
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.redaction import Redactor
from claimx_worker.plugins.inventory import Inventory, take_inventory
from claimx_worker.settings import (
    PLUGINS_DIR_KEY,
    Override,
    WorkerSettings,
    load_worker_config,
    set_overrides,
)

DEFAULT_CONFIG = Path("config/claimx_config.yaml")
FC = TypeVar("FC", bound=Callable[..., object])
CONFIG_EXIT_CODE = 2


@click.group()
@click.version_option(__version__, prog_name="claimx-worker")
def cli() -> None:
    """ClaimX enrichment worker and plugin host."""


def exit_with_config_error(error: ConfigError, redactor: Redactor | None = None) -> NoReturn:
    """Print every configuration problem to stderr (each message through ``redactor``, if
    given) and exit with code 2 (no traceback)."""
    if redactor is not None:
        error = error.redacted(redactor.redact)
    count = len(error.problems)
    click.echo(str(error), err=True)
    click.echo(f"Invalid configuration: {count} problem{'s' if count != 1 else ''}.", err=True)
    raise SystemExit(CONFIG_EXIT_CODE)


def _logging_redactor() -> Redactor:
    """A new redactor, installed in the log sink: a command registers every secret with it
    before running code that may log one."""
    redactor = Redactor()
    configure_logging(redactor=redactor)
    return redactor


def _settings_file(option: Path | None) -> Path | None:
    """``--config``, else the default settings file when it exists, else none."""
    if option is not None:
        return option
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def _settings(config_file: Path | None, redactor: Redactor) -> WorkerSettings:
    """The settings from the defaults, ``--config`` (or the default file) and the environment;
    their secrets and the API token are added to ``redactor``."""
    loaded = load_worker_config(_settings_file(config_file), os.environ)
    redactor.add(*loaded.secrets, loaded.value.claimx_api.token)
    return loaded.value


def _plugins_dir(option: str | None, settings: WorkerSettings) -> Path | None:
    """``--plugins-dir`` if given, else the settings' ``plugins_dir``; ``""`` disables plugins."""
    if option is None:
        option = settings.kafka.worker.processing.plugins_dir
    return Path(option) if option else None


_plugins_dir_option = click.option(
    "--plugins-dir",
    metavar="DIR",
    help="Plugin instances directory (default: plugins_dir from the settings file; '' disables).",
)
_config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help=f"Worker settings file (default: {DEFAULT_CONFIG}, if present).",
)


def _parse_assignments(_: click.Context, __: click.Parameter, value: Sequence[str]) -> object:
    try:
        return set_overrides(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


_set_option = click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_parse_assignments,
    help="Set a setting, e.g. metrics.port=9200 (beats the environment and the file; "
    "repeatable; a list or mapping as YAML: '[1s, 2s]').",
)


def _overrides(assignments: Sequence[Override], plugins_dir: str | None) -> list[Override]:
    """The settings options give: ``--set`` ones, then ``--plugins-dir``."""
    if plugins_dir is None:
        return [*assignments]
    return [*assignments, Override(PLUGINS_DIR_KEY, plugins_dir, "option --plugins-dir")]


@cli.group()
def plugins() -> None:
    """Installed plugins and configured plugin instances."""


def _inventory(plugins_dir: str | None, config_file: Path | None, redactor: Redactor) -> Inventory:
    """The inventory (problems in the plugin configs collected, not raised); exit 2 with the
    problems of invalid worker settings. Every secret of the settings (read when ``--config``
    names them or ``--plugins-dir`` is not given) and of the plugin configs is registered with
    ``redactor`` before any plugin code runs."""
    try:
        needed = plugins_dir is None or config_file is not None
        settings = _settings(config_file, redactor) if needed else WorkerSettings()
    except ConfigError as error:
        exit_with_config_error(error, redactor)
    directory = _plugins_dir(plugins_dir, settings)
    return take_inventory(directory, env=os.environ, redactor=redactor)


@plugins.command("list")
@_plugins_dir_option
@_config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_list(plugins_dir: str | None, config_file: Path | None, as_json: bool) -> None:
    """List installed plugins and every configured instance in run order (calls no on_load).

    Invalid instances are listed too, with their first problem; then every problem is printed
    to stderr and the exit code is 2. Exit 0 when all is valid.
    """
    redactor = _logging_redactor()
    inventory = _inventory(plugins_dir, config_file, redactor)
    listing = json.dumps(inventory.to_json(), indent=2) if as_json else inventory.render()
    click.echo(redactor.redact(listing))
    if inventory.problems:
        exit_with_config_error(ConfigError(inventory.problems), redactor)


@plugins.command("validate")
@_plugins_dir_option
@_config_option
def plugins_validate(plugins_dir: str | None, config_file: Path | None) -> None:
    """Import and validate every configured instance; exit 2 with every problem if any.

    Starts no consumer and calls no on_load. A --plugins-dir that does not exist is exit 2.
    """
    if plugins_dir and not Path(plugins_dir).exists():
        click.echo(f"Plugins directory not found: {plugins_dir}", err=True)
        raise SystemExit(CONFIG_EXIT_CODE)
    redactor = _logging_redactor()
    inventory = _inventory(plugins_dir, config_file, redactor)
    if inventory.problems:
        exit_with_config_error(ConfigError(inventory.problems), redactor)
    names = ", ".join(instance.name for instance in inventory.check.plugins.instances) or "none"
    click.echo(
        redactor.redact(f"Plugin configuration is valid. Enabled instances in run order: {names}.")
    )


@plugins.command("new")
@click.argument("name")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Where to create the project directory claimx-plugin-<name>/.",
)
@click.option("--description", help="One line for the distribution's metadata and README.")
def plugins_new(name: str, directory: Path, description: str | None) -> None:
    """Create a plugin distribution: pyproject.toml, plugin class, example config, tests, README.

    NAME is the plugin's entry-point name (e.g. photo_alerts). Never overwrites: exit 2 when the
    project directory exists.
    """
    from claimx_worker.plugins.scaffold import ScaffoldError, new_plugin

    try:
        created = new_plugin(name, directory, description=description)
    except ScaffoldError as error:
        click.echo(f"Error: {error}", err=True)
        raise SystemExit(CONFIG_EXIT_CODE) from None
    click.echo(created.render())


@cli.command()
@_config_option
@_set_option
@_plugins_dir_option
@click.option(
    "--processor",
    "processor_spec",
    metavar="MODULE:FUNCTION",
    help="Replace the ClaimX pipeline with this processor factory (called with the settings).",
)
def run(
    config_file: Path | None,
    assignments: Sequence[Override],
    plugins_dir: str | None,
    processor_spec: str | None,
) -> None:
    """Consume, enrich and hand events to the plugins until SIGTERM or SIGINT.

    Settings: options, then the environment, then the settings file, then the defaults (see
    claimx-worker config show). On the first signal: stop fetching, drain in-flight events,
    commit, unload the plugins, flush, exit 0; a second signal exits at once. Exit 2 on invalid
    settings or plugin configuration, missing topics, or a start-up check that failed (librdkafka
    properties, metrics port, broker), 1 on a fatal Kafka error.
    """
    from claimx_worker.worker import run_from_config

    try:
        status = run_from_config(
            _settings_file(config_file),
            processor_spec,
            os.environ,
            options=_overrides(assignments, plugins_dir),
        )
    except ConfigError as error:
        exit_with_config_error(error)
    raise SystemExit(status)


def _event_type_option(_: click.Context, __: click.Parameter, value: str | None) -> str | None:
    """An event type, case-insensitive; an unknown one is a usage error listing the ten."""
    if value is None or value.upper() in EventType.__members__:
        return None if value is None else value.upper()
    raise click.BadParameter(
        f"unknown event type {value!r}; one of: {', '.join(EventType.__members__)}"
    )


def _example_option(help_text: str) -> Callable[[FC], FC]:
    """``--example TYPE``: one of the ten ClaimX event types, case-insensitive."""
    return click.option("--example", metavar="TYPE", callback=_event_type_option, help=help_text)


@cli.command()
@click.argument("event_file", required=False, type=click.File("r", encoding="utf-8"))
@_example_option("Print a sample event of TYPE (one of the ten ClaimX event types) and exit.")
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
@_plugins_dir_option
@_config_option
@click.option("--json", "as_json", is_flag=True, help="Print the actions as a JSON list.")
def simulate(
    event_file: TextIO | None,
    example: str | None,
    enriched: bool,
    simulator: bool,
    plugins_dir: str | None,
    config_file: Path | None,
    as_json: bool,
) -> None:
    """Dry run: show the actions the plugins would take for one event; run none of them.

    EVENT_FILE (or - for stdin) holds a raw event, enriched through the ClaimX API of the settings
    file (token: CLAIMX_API_TOKEN) or with --simulator, or with --enriched an event and its rows.
    Exit 0 when it ran cleanly, 1 when a plugin hook failed, attempted I/O or enrichment failed,
    2 for an invalid event file or plugin configuration.
    """
    from claimx_worker import simulate as dry

    redactor = _logging_redactor()
    if example is not None:
        click.echo(dry.example(example, enriched=enriched))
        return
    if event_file is None:
        raise click.UsageError("give EVENT_FILE (or - for stdin), or --example TYPE")
    try:
        settings = _settings(config_file, redactor)
        api = settings.claimx_api
        status = dry.run_simulation(
            event_file.read(),
            enriched=enriched,
            plugins_dir=_plugins_dir(plugins_dir, settings),
            api=None if simulator else api,
            budget_ms=settings.kafka.worker.processing.plugin_timeout_ms,
            as_json=as_json,
            env=os.environ,
            redactor=redactor,
            echo=click.echo,
            note=functools.partial(click.echo, err=True),
        )
    except dry.InvalidInputError as error:
        click.echo(redactor.redact(f"Invalid event file {event_file.name}: {error}"), err=True)
        raise SystemExit(CONFIG_EXIT_CODE) from None
    except ConfigError as error:
        exit_with_config_error(error, redactor)
    raise SystemExit(status)


@cli.command()
@click.argument("events_file", required=False, type=click.File("r", encoding="utf-8"))
@_example_option("Send sample events of TYPE (as simulate --example shows them), not a file.")
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
@_config_option
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
    redactor = _logging_redactor()  # librdkafka's complaints, in the worker's format
    try:
        kafka = _settings(config_file, redactor).kafka
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
@_config_option
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
    is needed. The worker's topics (those of the settings, or the defaults) and the shipped
    task trigger's claimx.task-triggers are created.

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

    redactor = _logging_redactor()
    try:
        settings = _settings(config_file, redactor)
    except ConfigError as error:
        exit_with_config_error(error)
    topics = [*worker_topics(settings.kafka.worker), TASK_TRIGGER_TOPIC, *extra_topics]
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


@cli.group()
def config() -> None:
    """The worker's settings: write a settings file, show the effective settings, check a file."""


@config.command("init")
@click.argument(
    "path",
    required=False,
    default=DEFAULT_CONFIG,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
)
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
def config_init(path: Path, force: bool) -> None:
    """Write a settings file: every setting at its default, each with a line on what it does.

    PATH defaults to config/claimx_config.yaml (where run looks); - prints the file. Never
    overwrites a file without --force (exit 2).
    """
    from claimx_worker.settings.reference import settings_template

    text = settings_template()
    if str(path) == "-":
        click.echo(text, nl=False)
        return
    if path.exists() and not force:
        click.echo(f"Error: {path} exists; use --force to overwrite it.", err=True)
        raise SystemExit(CONFIG_EXIT_CODE)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        click.echo(f"Error: cannot write {path}: {error.strerror or error}", err=True)
        raise SystemExit(CONFIG_EXIT_CODE) from None
    click.echo(f"Wrote {path}: every setting with its default.")


@config.command("show")
@_config_option
@_set_option
@_plugins_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def config_show(
    config_file: Path | None,
    assignments: Sequence[Override],
    plugins_dir: str | None,
    as_json: bool,
) -> None:
    """Print the settings run would use with these options, and where each value came from.

    Sources: default, FILE:LINE, env NAME, option. Secrets are masked. Exit 2 with every
    problem when the settings are invalid.
    """
    from claimx_worker.settings.effective import render_json, render_table

    try:
        loaded = load_worker_config(
            _settings_file(config_file), os.environ, options=_overrides(assignments, plugins_dir)
        )
    except ConfigError as error:
        exit_with_config_error(error)
    click.echo(render_json(loaded) if as_json else render_table(loaded), nl=False)


@config.command("validate")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
def config_validate(path: Path | None) -> None:
    """Check the settings file PATH with the environment, as run reads them; exit 0, or 2 with
    every problem.

    PATH defaults to config/claimx_config.yaml if present; without a file, the environment is
    checked against the defaults.
    """
    settings_file = _settings_file(path)
    try:
        load_worker_config(settings_file, os.environ)
    except ConfigError as error:
        exit_with_config_error(error)
    checked = settings_file or "no settings file, defaults and environment"
    click.echo(f"Settings are valid: {checked}.")


@cli.group()
def dlq() -> None:
    """The action dead-letter queue."""


@dlq.command("replay")
@click.option(
    "--topic", help=f"DLQ topic (default: the settings' actions DLQ, else {DEFAULT_DLQ_TOPIC})."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="List the records (secret-free), each with whether it would be replayed; run nothing.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Worker settings file (Kafka client properties, DLQ topic, secrets).",
)
@click.option(
    "--bootstrap-servers",
    envvar="KAFKA_BOOTSTRAP_SERVERS",
    help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS, else the settings file).",
)
@click.option("--max", "max_records", type=click.IntRange(min=1), help="Replay at most N records.")
@click.option(
    "--group",
    default=DEFAULT_REPLAY_GROUP,
    show_default=True,
    help="Consumer group of the replay; its commits mark what was replayed.",
)
@click.option(
    "--plugins-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Plugin instances whose configuration bounds each record "
    "(default: the settings' plugins_dir, else plugins/config).",
)
@click.option(
    "--allow-destination",
    "allowed_destinations",
    multiple=True,
    metavar="URL",
    help="Also let records go to this endpoint (scheme://host[:port]); repeatable.",
)
@click.option(
    "--allow-topic",
    "allowed_topics",
    multiple=True,
    metavar="TOPIC",
    help="Also let records be published to this topic; repeatable.",
)
def dlq_replay(
    topic: str | None,
    dry_run: bool,
    config_file: Path | None,
    bootstrap_servers: str | None,
    max_records: int | None,
    group: str,
    plugins_dir: Path | None,
    allowed_destinations: tuple[str, ...],
    allowed_topics: tuple[str, ...],
) -> None:
    """Re-run dead-lettered actions with their idempotency keys and the current secrets.

    A record only names which action of which plugin instance it was, and its payload: it is
    sent only to an endpoint or topic that instance's current configuration names (or an
    allowed one), with only the variables that configuration uses, signed with the current
    signing secrets. Exit 0 when every record was delivered (or listed), 1 when some went back
    to the DLQ or could not be replayed, 2 on bad settings, a missing topic or an unset variable.
    """
    from claimx_worker.dlq_replay import ReplayOptions, run_replay

    options = ReplayOptions(
        topic=topic,
        dry_run=dry_run,
        config=config_file,
        bootstrap_servers=bootstrap_servers,
        max_records=max_records,
        group=group,
        plugins_dir=plugins_dir,
        allowed_destinations=allowed_destinations,
        allowed_topics=allowed_topics,
    )
    err = functools.partial(click.echo, err=True)
    raise SystemExit(run_replay(options, environ=os.environ, echo=click.echo, err=err))


@cli.command()
@click.argument("name", required=False)
@click.option("--path", "show_path", is_flag=True, help="Print the guide's file path instead.")
def docs(name: str | None, show_path: bool) -> None:
    """Read the guides installed with claimx-worker (Markdown; no checkout needed).

    Without NAME, list them; with NAME (e.g. upgrading, rows, writing-plugins), print that one.
    Exit 2 for an unknown NAME.
    """
    from claimx_worker.guides import guides, title

    available = guides()
    if name is None:
        click.echo("Guides installed with claimx-worker (read one: claimx-worker docs NAME):")
        for known, path in available.items():
            click.echo(f"  {known:<16} {title(path)}")
        return
    if name not in available:
        click.echo(f"Error: unknown guide {name!r}; one of: {', '.join(available)}", err=True)
        raise SystemExit(CONFIG_EXIT_CODE)
    path = available[name]
    click.echo(str(path) if show_path else path.read_text(encoding="utf-8"), nl=show_path)


def main() -> None:
    """Console-script entry point."""
    cli()
