"""Fixtures for tests that build our wheels and install them into fresh virtual environments."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.wheels import PLUGIN_PROJECT, REPO, FreshVenv, build_wheel, uv


@pytest.fixture(scope="session")
def worker_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``claimx-worker`` wheel built from this checkout."""
    return build_wheel(REPO, tmp_path_factory.mktemp("worker-dist"))


@pytest.fixture(scope="session")
def task_trigger_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``claimx-plugin-task-trigger`` wheel built from this checkout."""
    return build_wheel(PLUGIN_PROJECT, tmp_path_factory.mktemp("task-trigger-dist"))


@pytest.fixture
def fresh_venv(tmp_path: Path) -> FreshVenv:
    """A factory: a new virtual environment with the given wheels installed; returns its python."""

    def make(wheels: Sequence[Path]) -> Path:
        venv = tmp_path / "venv"
        uv("venv", "--quiet", "--python", sys.executable, venv)
        python = venv / "bin" / "python"
        uv("pip", "install", "--quiet", "--python", python, *wheels)
        return python

    return make
