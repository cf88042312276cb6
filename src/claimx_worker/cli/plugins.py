"""``claimx-worker plugins list|validate|new``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from claimx_worker.cli.common import (
    CONFIG_EXIT_CODE,
    cli,
    command_settings,
    config_option,
    exit_with_config_error,
    logging_redactor,
    plugins_dir_of,
    plugins_dir_option,
)
from claimx_worker.config.problems import ConfigError
from claimx_worker.observability.redaction import Redactor
from claimx_worker.plugins.inventory import Inventory, take_inventory
from claimx_worker.settings import WorkerSettings


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
        settings = command_settings(config_file, redactor) if needed else WorkerSettings()
    except ConfigError as error:
        exit_with_config_error(error, redactor)
    directory = plugins_dir_of(plugins_dir, settings)
    return take_inventory(directory, env=os.environ, redactor=redactor)


@plugins.command("list")
@plugins_dir_option
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_list(plugins_dir: str | None, config_file: Path | None, as_json: bool) -> None:
    """List installed plugins and every configured instance in run order (calls no on_load).

    Invalid instances are listed too, with their first problem; then every problem is printed
    to stderr and the exit code is 2. Exit 0 when all is valid.
    """
    redactor = logging_redactor()
    inventory = _inventory(plugins_dir, config_file, redactor)
    listing = json.dumps(inventory.to_json(), indent=2) if as_json else inventory.render()
    click.echo(redactor.redact(listing))
    if inventory.problems:
        exit_with_config_error(ConfigError(inventory.problems), redactor)


@plugins.command("validate")
@plugins_dir_option
@config_option
def plugins_validate(plugins_dir: str | None, config_file: Path | None) -> None:
    """Import and validate every configured instance; exit 2 with every problem if any.

    Starts no consumer and calls no on_load. A --plugins-dir that does not exist is exit 2.
    """
    if plugins_dir and not Path(plugins_dir).exists():
        click.echo(f"Plugins directory not found: {plugins_dir}", err=True)
        raise SystemExit(CONFIG_EXIT_CODE)
    redactor = logging_redactor()
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
