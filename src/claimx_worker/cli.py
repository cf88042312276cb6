"""The ``claimx-worker`` command line. Thin: every command calls into the modules."""

from __future__ import annotations

import click

from claimx_worker import __version__


@click.group()
@click.version_option(__version__, prog_name="claimx-worker")
def cli() -> None:
    """ClaimX enrichment worker and plugin host."""


def main() -> None:
    """Console-script entry point."""
    cli()
