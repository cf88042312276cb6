"""``claimx-worker docs [NAME]``."""

from __future__ import annotations

import click

from claimx_worker.cli.common import CONFIG_EXIT_CODE, cli


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
            click.echo(f"  {known:<20} {title(path)}")
        return
    if name not in available:
        click.echo(f"Error: unknown guide {name!r}; one of: {', '.join(available)}", err=True)
        raise SystemExit(CONFIG_EXIT_CODE)
    path = available[name]
    click.echo(str(path) if show_path else path.read_text(encoding="utf-8"), nl=show_path)
