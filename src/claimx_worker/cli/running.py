"""``claimx-worker run`` and ``claimx-worker reload``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click

from claimx_worker.cli.common import (
    cli,
    command_settings,
    config_option,
    exit_with_config_error,
    logging_redactor,
    overrides,
    plugins_dir_option,
    set_option,
    settings_file,
)
from claimx_worker.config.problems import ConfigError
from claimx_worker.settings import Override


@cli.command()
@config_option
@set_option
@plugins_dir_option
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
            settings_file(config_file),
            processor_spec,
            os.environ,
            options=overrides(assignments, plugins_dir),
        )
    except ConfigError as error:
        exit_with_config_error(error)
    raise SystemExit(status)


@cli.command()
@config_option
@click.option(
    "--pid-file",
    type=click.Path(path_type=Path),
    help="The running worker's PID file (default: control.pid_file from the settings).",
)
def reload(config_file: Path | None, pid_file: Path | None) -> None:
    """Make a running worker reload its settings and plugin instances (sends it SIGHUP).

    The worker validates everything first and keeps its running configuration when anything is
    invalid; its log (and claimx_config_reloads_total) reports the outcome. Exit 1 when no
    worker could be signalled.
    """
    from claimx_worker.reload import ReloadSignalError, signal_reload

    if pid_file is None:
        try:
            configured = command_settings(config_file, logging_redactor()).control.pid_file
        except ConfigError as error:
            exit_with_config_error(error)
        if not configured:
            raise click.ClickException(
                "no PID file: give --pid-file, or set control.pid_file in the settings"
            )
        pid_file = Path(configured)
    try:
        pid = signal_reload(pid_file)
    except ReloadSignalError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Sent SIGHUP to claimx-worker (pid {pid}); its log reports the outcome.")
