"""``claimx-worker dlq replay``."""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from pathlib import Path

import click

from claimx_worker.actions.settings import DEFAULT_DLQ_TOPIC, DEFAULT_REPLAY_GROUP
from claimx_worker.cli.common import cli


@cli.group()
def dlq() -> None:
    """The dead-letter queues: plugin actions and ClaimX events."""


class _Moment(click.ParamType):  # type: ignore[type-arg]
    """An ISO-8601 date or time; UTC when it names no zone."""

    name = "TIME"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"not an ISO-8601 time: {value!r} (e.g. 2026-12-06T10:30:00Z)", param, ctx)
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dlq.command("replay")
@click.option(
    "--topic", help=f"DLQ topic (default: the settings' actions DLQ, else {DEFAULT_DLQ_TOPIC})."
)
@click.option(
    "--kind",
    type=click.Choice(["actions", "events"]),
    help="What the topic holds (default: events for the settings' event DLQ topic, "
    "claimx.enrichment.dlq by default; actions for any other).",
)
@click.option(
    "--category",
    "categories",
    multiple=True,
    metavar="CATEGORY",
    help="Events only: replay those dead-lettered with this error category "
    "(auth, transient, permanent, invalid_event); repeatable.",
)
@click.option(
    "--event-type",
    "event_types",
    multiple=True,
    metavar="TYPE",
    help="Events only: replay events of this type; repeatable.",
)
@click.option("--since", type=_Moment(), help="Events only: dead-lettered at or after this time.")
@click.option("--until", type=_Moment(), help="Events only: dead-lettered before this time.")
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
    help="Plugin instances whose configuration bounds each record, and the connections/ "
    "they send through (default: the settings' plugins_dir, else plugins/config).",
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
    kind: str | None,
    categories: tuple[str, ...],
    event_types: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    dry_run: bool,
    config_file: Path | None,
    bootstrap_servers: str | None,
    max_records: int | None,
    group: str,
    plugins_dir: Path | None,
    allowed_destinations: tuple[str, ...],
    allowed_topics: tuple[str, ...],
) -> None:
    """Re-run dead-lettered actions, or put dead-lettered events back onto the input topic.

    Events (the event DLQ): each selected event goes back onto the configured input topic,
    its key, value and own headers as they were, the routing headers dropped; an event that
    was truncated or is not a valid ClaimX event is not replayable. The replay group commits
    every record it read, selected or not.

    Actions are re-run with their idempotency keys and the current secrets. A record only
    names which action of which plugin instance it was, and its payload: it is
    sent only to an endpoint or topic that instance's current configuration names (or an
    allowed one), with only the variables that configuration uses, signed with the current
    signing secrets. Exit 0 when every record was delivered (or listed), 1 when some went back
    to the DLQ or could not be replayed, 2 on bad settings, a missing topic or an unset variable.
    """
    from claimx_worker.dlq_replay import DeadLetterKind, ReplayOptions, run_replay
    from claimx_worker.kafka.event_replay import EventSelection

    options = ReplayOptions(
        topic=topic,
        kind=None if kind is None else DeadLetterKind(kind),
        selection=EventSelection(
            categories=frozenset(categories),
            event_types=frozenset(event_types),
            since=since,
            until=until,
        ),
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
