"""``claimx-worker run``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click

from claimx_worker.cli.common import (
    cli,
    config_option,
    exit_with_config_error,
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
