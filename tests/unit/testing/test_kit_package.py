"""The ``claimx_worker.testing`` package: lazy exports, no pytest at import, quiet CLIs."""

from __future__ import annotations

import subprocess
import sys

import pytest

import claimx_worker.testing as kit


def test_every_exported_name_resolves() -> None:
    for name in kit.__all__:
        assert getattr(kit, name) is not None, name
    assert set(kit.__all__) <= set(dir(kit))
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        kit.nope  # noqa: B018


def test_importing_the_kit_imports_neither_pytest_nor_its_command_modules() -> None:
    code = (
        "import sys, claimx_worker.testing as kit\n"
        "kit.make_event, kit.StageHarness\n"
        "loaded = [m for m in ('pytest', 'claimx_worker.testing.kafka',"
        " 'claimx_worker.testing.webhooks') if m in sys.modules]\n"
        "print(loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module", ["kafka", "claimx_api", "webhooks"])
def test_the_kit_s_command_modules_run_without_a_runpy_warning(module: str) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-W",
            "error::RuntimeWarning",
            "-m",
            f"claimx_worker.testing.{module}",
            "--help",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "RuntimeWarning" not in run.stderr
    assert run.stdout.startswith("usage: python -m claimx_worker.testing.")
