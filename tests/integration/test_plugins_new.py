"""``claimx-worker plugins new`` end to end, from the claimx-worker wheel built from this checkout.

In a fresh virtual environment holding only that wheel: generate a plugin project with the real
CLI (templates come from the installed wheel, not the source tree), build the project's wheel,
install it with its test extra, run the project's own tests there, and find the plugin and its
example instance with ``claimx-worker plugins list``. No file of the project is edited.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from claimx_worker import __version__
from claimx_worker.plugins.scaffold import compatible_range
from tests.wheels import FreshVenv, uv

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command with a clean environment (no ``PYTHONPATH`` back into this checkout)."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )


def test_generated_plugin_builds_passes_its_tests_and_is_listed(
    worker_wheel: Path, fresh_venv: FreshVenv, tmp_path: Path
) -> None:
    python = fresh_venv([worker_wheel])
    cli = python.parent / "claimx-worker"

    created = run(cli, "plugins", "new", "photo_alerts", "--directory", tmp_path / "src")
    assert created.returncode == 0, created.stderr
    project = tmp_path / "src" / "claimx-plugin-photo-alerts"
    assert f"Created {project}/" in created.stdout
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()) == [
        ".gitignore",
        "README.md",
        "config/photo_alerts/README.md",
        "config/photo_alerts/config.yaml",
        "pyproject.toml",
        "src/claimx_plugin_photo_alerts/__init__.py",
        "src/claimx_plugin_photo_alerts/plugin.py",
        "src/claimx_plugin_photo_alerts/py.typed",
        "tests/conftest.py",
        "tests/test_plugin.py",
    ]
    again = run(cli, "plugins", "new", "photo_alerts", "--directory", tmp_path / "src")
    assert (again.returncode, again.stderr) == (
        2,
        f"Error: {project} already exists; nothing was written\n",
    )

    uv("build", "--quiet", "--wheel", "--out-dir", tmp_path / "dist", project)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert wheel.name == "claimx_plugin_photo_alerts-0.1.0-py3-none-any.whl"
    requirement = f"claimx-plugin-photo-alerts[test] @ {wheel.as_uri()}"
    uv("pip", "install", "--quiet", "--python", python, requirement, worker_wheel)

    tests = run(python, "-m", "pytest", "-v", "-p", "no:cacheprovider", cwd=project)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "tests/test_plugin.py::TestContract::test_enrichment_complete" in tests.stdout
    summary = tests.stdout.strip().splitlines()[-1]
    assert " passed" in summary
    assert "failed" not in summary
    assert "skipped" not in summary
    assert "error" not in summary

    listing = run(cli, "plugins", "list", "--json", "--plugins-dir", project / "config")
    assert listing.returncode == 0, listing.stderr
    found = json.loads(listing.stdout)
    assert found["installed"] == [
        {
            "name": "photo_alerts",
            "value": "claimx_plugin_photo_alerts:PhotoAlertsPlugin",
            "distribution": "claimx-plugin-photo-alerts",
            "version": "0.1.0",
            "requires_worker": str(Requirement(compatible_range(__version__))),
            "compatible": True,
        }
    ]
    (instance,) = found["instances"]
    assert {key: instance[key] for key in ("name", "enabled", "plugin", "origin", "hooks")} == {
        "name": "photo_alerts",
        "enabled": True,
        "plugin": "photo_alerts",
        "origin": "entry point 'photo_alerts' (claimx-plugin-photo-alerts 0.1.0)",
        "hooks": ["on_enrichment_complete"],
    }


def test_printed_next_steps_work_in_the_workers_environment(
    worker_wheel: Path, fresh_venv: FreshVenv, tmp_path: Path
) -> None:
    """The steps ``plugins new`` prints install the project where claimx-worker already is:
    claimx-worker itself is never looked up on a package index."""
    python = fresh_venv([worker_wheel])
    created = run(python.parent / "claimx-worker", "plugins", "new", "Photo-Alerts", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("Plugin name 'Photo-Alerts' became 'photo_alerts'")
    steps = [
        shlex.split(line, comments=True)
        for line in created.stdout.split("\nNext", 1)[1].splitlines()[1:5]
    ]
    assert steps[0] == ["cd", "claimx-plugin-photo-alerts"]
    project = tmp_path / steps[0][1]
    (uv_install,) = [step for step in steps if step[:3] == ["uv", "pip", "install"]]
    (pytest_step,) = [step for step in steps if step[1:] == ["-m", "pytest"]]

    installed = subprocess.run(
        [sys.executable, "-m", *uv_install, "--quiet"], cwd=project, capture_output=True, text=True
    )
    assert installed.returncode == 0, installed.stderr
    tests = run(*pytest_step, "-q", "-p", "no:cacheprovider", cwd=project)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout.strip().splitlines()[-1]
