"""The ``claimx-worker`` command line. Thin: every command calls into the modules.

One module per command group; importing them registers their commands on :data:`cli`.
"""

from claimx_worker.cli import (  # noqa: F401 - importing a command module registers it
    dead_letters,
    development,
    guides,
    plugins,
    running,
    settings_commands,
    tables,
)
from claimx_worker.cli.common import cli, exit_with_config_error

__all__ = ["cli", "exit_with_config_error", "main"]


def main() -> None:
    """Console-script entry point."""
    cli()
