"""``claimx-worker tables run|show|optimize|vacuum``: the Delta Lake entity tables."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import click

from claimx_worker.cli.common import (
    CONFIG_EXIT_CODE,
    cli,
    command_settings,
    config_option,
    exit_with_config_error,
    logging_redactor,
    overrides,
    set_option,
    settings_file,
)
from claimx_worker.config.problems import ConfigError
from claimx_worker.settings import Override, WorkerSettings, load_worker_config
from claimx_worker.tables import TablesExtraMissingError, require_tables_extra
from claimx_worker.tables.settings import TABLE_NAMES


def _require_extra() -> None:
    try:
        require_tables_extra()
    except TablesExtraMissingError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(CONFIG_EXIT_CODE) from None


def _settings(config_file: Path | None) -> WorkerSettings:
    _require_extra()
    try:
        return command_settings(config_file, logging_redactor())
    except ConfigError as error:
        exit_with_config_error(error)


@cli.group()
def tables() -> None:
    """The Delta Lake entity tables (needs the tables extra: claimx-worker[tables])."""


@tables.command("run")
@config_option
@set_option
def run(config_file: Path | None, assignments: Sequence[Override]) -> None:
    """Write the entity rows of the enriched topic into the tables until SIGTERM or SIGINT.

    Consumes in its own consumer group (tables.consumer_group); each batch is merged into every
    table exactly once. Exit 2 on invalid settings, a missing extra, a metrics port in use or
    missing topics, 1 on a fatal Kafka error.
    """
    _require_extra()
    from claimx_worker.tables.run import run_tables

    try:
        loaded = load_worker_config(
            settings_file(config_file), os.environ, options=overrides(assignments, None)
        )
    except ConfigError as error:
        exit_with_config_error(error)
    settings = loaded.value
    raise SystemExit(
        run_tables(
            settings.kafka,
            settings.tables,
            metrics=settings.metrics,
            logging=settings.logging,
            secrets=[*loaded.secrets, settings.claimx_api.token],
            sources=loaded.sources,
        )
    )


@tables.command("show")
@click.argument("table", type=click.Choice(TABLE_NAMES))
@click.option("--where", metavar="SQL", help="A SQL condition, e.g. \"status = 'COMPLETED'\".")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True)
@config_option
def show(table: str, where: str | None, limit: int, config_file: Path | None) -> None:
    """Print rows of TABLE, one JSON object a line."""
    settings = _settings(config_file)
    from claimx_worker.tables.maintenance import TableQueryError, show_rows

    try:
        rows = show_rows(settings.tables, table, where=where, limit=limit)
    except TableQueryError as exc:
        raise click.ClickException(str(exc)) from None
    for row in rows:
        click.echo(json.dumps(row, default=str, ensure_ascii=False))


@tables.command("optimize")
@config_option
def optimize(config_file: Path | None) -> None:
    """Compact each table's small files into larger ones and write a checkpoint."""
    settings = _settings(config_file)
    from claimx_worker.tables.maintenance import optimize as optimize_tables

    for done in optimize_tables(settings.tables):
        click.echo(f"{done.table}: {done.summary}")


@tables.command("vacuum")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@config_option
def vacuum(dry_run: bool, config_file: Path | None) -> None:
    """Delete files that no table version within tables.vacuum_retention_hours refers to."""
    settings = _settings(config_file)
    from claimx_worker.tables.maintenance import vacuum as vacuum_tables

    for done in vacuum_tables(settings.tables, dry_run=dry_run):
        click.echo(f"{done.table}: {done.summary}")
