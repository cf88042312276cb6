"""Both distributions build, install into a fresh environment and register the entry point."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.wheels import FreshVenv

pytestmark = pytest.mark.slow

ENTRY_POINTS = """
import json
from importlib.metadata import distribution, entry_points
(ep,) = [ep for ep in entry_points(group="claimx.plugins") if ep.name == "task_trigger"]
print(json.dumps({
    "value": ep.value,
    "dist": ep.dist.name,
    "version": ep.dist.version,
    "worker": distribution("claimx-worker").version,
    "requires": distribution("claimx-plugin-task-trigger").requires,
    "plugin_file": __import__(ep.module).__file__,
}))
"""


def test_wheels_install_and_register_the_task_trigger_entry_point(
    worker_wheel: Path, task_trigger_wheel: Path, fresh_venv: FreshVenv, tmp_path: Path
) -> None:
    python = fresh_venv([worker_wheel, task_trigger_wheel])

    found = json.loads(
        subprocess.run(
            [str(python), "-c", ENTRY_POINTS],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
        ).stdout
    )

    assert found["value"] == "claimx_plugin_task_trigger:TaskTriggerPlugin"
    assert found["dist"] == "claimx-plugin-task-trigger"
    assert found["version"] == task_trigger_wheel.name.split("-")[1]
    assert found["worker"] == worker_wheel.name.split("-")[1]
    assert any(req.startswith("claimx-worker") for req in found["requires"])
    assert str(python.parent.parent) in found["plugin_file"]  # the installed copy, not src/


def test_console_script_is_installed(worker_wheel: Path, fresh_venv: FreshVenv) -> None:
    python = fresh_venv([worker_wheel])

    version = subprocess.run(
        [str(python.parent / "claimx-worker"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert worker_wheel.name.split("-")[1] in version


@pytest.mark.slow
def test_a_wheel_built_straight_from_the_checkout_ships_the_guides_once(tmp_path: Path) -> None:
    """``pip install .`` builds the wheel from the checkout, not from the sdist: the guides
    (``docs/``, linked into the package) must be added once there too."""
    import zipfile

    from tests.wheels import REPO, uv

    uv("build", "--quiet", "--wheel", "--out-dir", tmp_path, REPO)
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    guides = [name for name in names if name.startswith("claimx_worker/docs/")]
    assert "claimx_worker/docs/running-locally.md" in guides
    assert len(guides) == len(set(guides))
