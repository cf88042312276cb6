"""``claimx-worker config init|show|validate``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click

from claimx_worker.cli.common import (
    CONFIG_EXIT_CODE,
    DEFAULT_CONFIG,
    cli,
    config_option,
    exit_with_config_error,
    overrides,
    plugins_dir_option,
    set_option,
    settings_file,
)
from claimx_worker.config.problems import ConfigError
from claimx_worker.settings import Override, load_worker_config


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
@config_option
@set_option
@plugins_dir_option
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
            settings_file(config_file), os.environ, options=overrides(assignments, plugins_dir)
        )
    except ConfigError as error:
        exit_with_config_error(error)
    click.echo(render_json(loaded) if as_json else render_table(loaded), nl=False)


@config.command("validate")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@config_option
def config_validate(path: Path | None, config_file: Path | None) -> None:
    """Check the settings file PATH (or --config) with the environment, as run reads them; exit
    0, or 2 with every problem.

    PATH defaults to config/claimx_config.yaml if present; without a file, the environment is
    checked against the defaults.
    """
    if path is not None and config_file is not None:
        raise click.UsageError("give the settings file once: PATH or --config")
    file = settings_file(path or config_file)
    try:
        load_worker_config(file, os.environ)
    except ConfigError as error:
        exit_with_config_error(error)
    checked = file or "no settings file, defaults and environment"
    click.echo(f"Settings are valid: {checked}.")
