"""``claimx-worker docs``: the guides ship with the package, so a wheel user can read what the
worker's messages point to (the compatibility error names ``claimx-worker docs upgrading``)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from claimx_worker.cli import cli
from claimx_worker.guides import guides

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_guide_of_the_repository_ships() -> None:
    assert list(guides()) == sorted(path.stem for path in DOCS.glob("*.md"))


def test_docs_lists_the_guides_with_their_titles() -> None:
    result = CliRunner().invoke(cli, ["docs"])

    assert result.exit_code == 0, result.output
    assert "  upgrading        Upgrading\n" in result.stdout
    assert "  rows             Entity rows reference\n" in result.stdout
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
    assert "unknown guide 'nope'; one of: dependencies, " in result.stderr
