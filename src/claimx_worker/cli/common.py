"""The ``claimx-worker`` command group and what its commands share: settings loading, the
configuration error exit, common options."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TypeVar

import click

from claimx_worker._version import __version__
from claimx_worker.config.problems import ConfigError, ConfigProblem
from claimx_worker.model import EventType
from claimx_worker.observability.logs import LogVariableError, configure_logging
from claimx_worker.observability.redaction import Redactor
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


def logging_redactor() -> Redactor:
    """A new redactor, installed in the log sink: a command registers every secret with it
    before running code that may log one."""
    redactor = Redactor()
    try:
        configure_logging(redactor=redactor)
    except LogVariableError as error:  # an unknown $LOG_LEVEL or $LOG_FORMAT
        problem = ConfigProblem(f"env {error.variable}", None, "", error.reason)
        exit_with_config_error(ConfigError([problem]))
    return redactor


def settings_file(option: Path | None) -> Path | None:
    """``--config``, else the default settings file when it exists, else none."""
    if option is not None:
        return option
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def command_settings(config_file: Path | None, redactor: Redactor) -> WorkerSettings:
    """The settings from the defaults, ``--config`` (or the default file) and the environment;
    their secrets and the API token are added to ``redactor``."""
    loaded = load_worker_config(settings_file(config_file), os.environ)
    redactor.add(*loaded.secrets, loaded.value.claimx_api.token)
    return loaded.value


def plugins_dir_of(option: str | None, settings: WorkerSettings) -> Path | None:
    """``--plugins-dir`` if given, else the settings' ``plugins_dir``; ``""`` disables plugins."""
    if option is None:
        option = settings.kafka.worker.processing.plugins_dir
    return Path(option) if option else None


plugins_dir_option = click.option(
    "--plugins-dir",
    metavar="DIR",
    help="Plugin instances directory (default: plugins_dir from the settings file; '' disables).",
)
config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help=f"Worker settings file (default: {DEFAULT_CONFIG}, if present).",
)


def parse_assignments(_: click.Context, __: click.Parameter, value: Sequence[str]) -> object:
    try:
        return set_overrides(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


set_option = click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    callback=parse_assignments,
    help="Set a setting, e.g. metrics.port=9200 (beats the environment and the file; "
    "repeatable; a list or mapping as YAML: '[1s, 2s]').",
)


def overrides(assignments: Sequence[Override], plugins_dir: str | None) -> list[Override]:
    """The settings options give: ``--set`` ones, then ``--plugins-dir``."""
    if plugins_dir is None:
        return [*assignments]
    return [*assignments, Override(PLUGINS_DIR_KEY, plugins_dir, "option --plugins-dir")]


def event_type_option(_: click.Context, __: click.Parameter, value: str | None) -> str | None:
    """An event type, case-insensitive; an unknown one is a usage error listing the ten."""
    if value is None or value.upper() in EventType.__members__:
        return None if value is None else value.upper()
    raise click.BadParameter(
        f"unknown event type {value!r}; one of: {', '.join(EventType.__members__)}"
    )


def example_option(help_text: str) -> Callable[[FC], FC]:
    """``--example TYPE``: one of the ten ClaimX event types, case-insensitive."""
    return click.option("--example", metavar="TYPE", callback=event_type_option, help=help_text)
