"""A plugin wheel built for another claimx-worker release is refused at load, before its code runs.

The plugin's ``claimx-worker`` requirement excludes the worker built from this checkout, as after
a worker upgrade that the plugin does not support yet (installed with ``--no-deps``: the
resolver would refuse the pair, pip's upgrade path does not). Its module writes a marker file
when imported; the marker must never appear.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from claimx_worker import __version__
from tests.wheels import FreshVenv, build_wheel, plugin_pyproject, uv

pytestmark = pytest.mark.slow

REQUIREMENT = "claimx-worker>=0.0.1,<0.1"

PYPROJECT = plugin_pyproject(
    "claimx-plugin-legacy", "3.1.0", REQUIREMENT, "legacy", "claimx_plugin_legacy:LegacyPlugin"
)

PLUGIN = '''
"""Writes a marker file when imported."""
import os
import pathlib

pathlib.Path(os.environ["IMPORT_MARKER"]).write_text("imported")

from claimx_worker import Plugin, hookimpl


class LegacyPlugin(Plugin[None]):
    @hookimpl
    def on_enrichment_complete(self, context):
        return None
'''


@pytest.fixture(scope="module")
def legacy_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("legacy-plugin")
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "claimx_plugin_legacy").mkdir()
    (project / "claimx_plugin_legacy" / "__init__.py").write_text(PLUGIN)
    return build_wheel(project, tmp_path_factory.mktemp("legacy-dist"))


def test_incompatible_plugin_wheel_is_refused_before_import(
    worker_wheel: Path, legacy_wheel: Path, fresh_venv: FreshVenv, tmp_path: Path
) -> None:
    python = fresh_venv([worker_wheel])
    uv("pip", "install", "--quiet", "--no-deps", "--python", python, legacy_wheel)
    plugins_dir = tmp_path / "plugins"
    (plugins_dir / "alerts").mkdir(parents=True)
    (plugins_dir / "alerts" / "config.yaml").write_text("plugin: legacy\n")
    settings = tmp_path / "worker.yaml"
    settings.write_text(
        "kafka:\n  bootstrap_servers: 127.0.0.1:9\n"
        "  claimx:\n    enrichment_worker:\n      processing:\n"
        f"        plugins_dir: {plugins_dir}\n"
        "metrics:\n  port: 0\n"
    )
    marker = tmp_path / "imported.txt"
    env = {"PATH": str(python.parent), "IMPORT_MARKER": str(marker)}
    cli = str(python.parent / "claimx-worker")

    validation = subprocess.run(
        [cli, "plugins", "validate", "--plugins-dir", str(plugins_dir)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    run = subprocess.run(
        [cli, "run", "--config", str(settings)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )

    expected = (
        f"{plugins_dir}/alerts/config.yaml:1: plugin: instance 'alerts': plugin 'legacy' "
        f"(claimx-plugin-legacy 3.1.0) requires claimx-worker<0.1,>=0.0.1, but claimx-worker "
        f"{__version__} is installed; install a release of claimx-plugin-legacy that supports "
        f"claimx-worker {__version__} (read: claimx-worker docs upgrading)\n"
        "Invalid configuration: 1 problem.\n"
    )
    assert (validation.returncode, validation.stdout, validation.stderr) == (2, "", expected)
    assert run.returncode == 2, run.stderr
    assert run.stderr.endswith(expected)
    assert "Traceback" not in run.stderr
    assert not marker.exists()
    imported = subprocess.run(
        [str(python), "-c", "import claimx_plugin_legacy"], env=env, check=False
    )
    assert imported.returncode == 0
    assert marker.read_text() == "imported"  # the probe works: only the host kept it silent
