"""Building our wheels and installing them into fresh virtual environments, for tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN_PROJECT = REPO / "packaging" / "claimx-plugin-task-trigger"


def uv(*args: str | Path) -> str:
    """Run ``uv`` (a test dependency) and return its stdout; fail the test with its stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "uv", *map(str, args)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.fail(f"uv {' '.join(map(str, args))} failed:\n{done.stderr}")
    return done.stdout


def build_wheel(project: Path, outdir: Path) -> Path:
    """Build ``project``'s wheel (through its sdist, as a release would) and return its path."""
    uv("build", "--quiet", "--out-dir", outdir, project)
    (wheel,) = outdir.glob("*.whl")
    return wheel


def plugin_pyproject(
    distribution: str, version: str, requirement: str, entry_point: str, target: str
) -> str:
    """A hatchling ``pyproject.toml`` for a one-package plugin distribution: its entry point
    ``entry_point`` in the group ``claimx.plugins`` is ``target`` (``package:Class``)."""
    package = target.split(":")[0]
    return f"""
[build-system]
requires = ["hatchling>=1.24"]
build-backend = "hatchling.build"

[project]
name = "{distribution}"
version = "{version}"
requires-python = ">=3.11"
dependencies = ["{requirement}"]

[project.entry-points."claimx.plugins"]
{entry_point} = "{target}"

[tool.hatch.build.targets.wheel]
packages = ["{package}"]
"""


FreshVenv = Callable[[Sequence[Path]], Path]
