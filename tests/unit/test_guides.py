"""``claimx-worker docs``: the guides ship with the package, so a wheel user can read what the
worker's messages point to (the compatibility error names ``claimx-worker docs upgrading``)."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from claimx_worker.cli import cli
from claimx_worker.guides import guides

DOCS = Path(__file__).resolve().parents[2] / "docs"
_LINK_TARGET = re.compile(r"\]\(([^)#\s]+)[^)]*\)")
"""The file part of a Markdown link: ``[text](target#anchor)``."""


def test_every_guide_of_the_repository_ships() -> None:
    assert list(guides()) == sorted(path.stem for path in DOCS.glob("*.md"))


def test_the_guides_link_only_to_files_installed_with_them() -> None:
    """The wheel holds the guides alone, not the repository around them: a relative link from a
    guide must point to a file beside it (``configuring-plugins.md``, not
    ``../plugins/config/README.md``)."""
    broken = [
        f"{name}: {target}"
        for name, path in guides().items()
        for target in _LINK_TARGET.findall(path.read_text())
        if "://" not in target
        and not (
            (path.parent / target).resolve().parent == path.parent.resolve()
            and (path.parent / target).exists()
        )
    ]

    assert broken == []


def test_docs_lists_the_guides_with_their_titles() -> None:
    result = CliRunner().invoke(cli, ["docs"])

    assert result.exit_code == 0, result.output
    assert "  upgrading            Upgrading\n" in result.stdout
    assert "  rows                 Entity rows reference\n" in result.stdout
    assert "claimx-worker docs NAME" in result.stdout


def test_docs_name_prints_the_guide() -> None:
    result = CliRunner().invoke(cli, ["docs", "upgrading"])

    assert result.exit_code == 0, result.output
    assert result.stdout == (DOCS / "upgrading.md").read_text()


def test_docs_path_prints_where_the_guide_is() -> None:
    result = CliRunner().invoke(cli, ["docs", "rows", "--path"])

    assert result.exit_code == 0, result.output
    assert Path(result.stdout.strip()).read_text() == (DOCS / "rows.md").read_text()


def test_an_unknown_guide_exits_2_listing_the_names() -> None:
    result = CliRunner().invoke(cli, ["docs", "nope"])

    assert result.exit_code == 2
    assert "unknown guide 'nope'; one of: configuring-plugins, dependencies, " in result.stderr
