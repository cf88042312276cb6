"""The guides shipped in the package: the repository's ``docs/*.md``, installed as
``claimx_worker/docs/`` beside this module (a symlink in a checkout), so that
``claimx-worker docs NAME`` and the messages pointing to it work from the wheel alone."""

from __future__ import annotations

from pathlib import Path

GUIDES_DIR = Path(__file__).with_name("docs")


def guides() -> dict[str, Path]:
    """Every guide by name (its file name without ``.md``), sorted by name."""
    return {path.stem: path for path in sorted(GUIDES_DIR.glob("*.md"))}


def title(path: Path) -> str:
    """A guide's first heading (``# Upgrading`` is ``Upgrading``)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return ""
