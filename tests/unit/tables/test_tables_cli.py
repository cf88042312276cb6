"""``claimx-worker tables``: the missing extra stops every command clearly; ``show`` reads a real
table on disk and refuses what it cannot read."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimx_worker.cli import cli
from claimx_worker.tables.batch import Contribution
from claimx_worker.tables.delta import DeltaTableWriter
from claimx_worker.tables.schemas import TABLES

_find_spec = importlib.util.find_spec


@pytest.mark.parametrize("command", [["run"], ["show", "claimx_tasks"], ["optimize"], ["vacuum"]])
def test_without_the_extra_every_command_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "deltalake" else _find_spec(name, *args),
    )
    result = CliRunner().invoke(cli, ["tables", *command])
    assert result.exit_code == 2
    assert "pip install 'claimx-worker[tables]'" in result.output
    assert "Traceback" not in result.output


def _env(location: Path) -> dict[str, str]:
    return {"CLAIMX_WORKER_TABLES__LOCATION": str(location)}


def test_show_prints_the_rows_that_match(tmp_path: Path) -> None:
    writer = DeltaTableWriter(
        TABLES["claimx_tasks"], str(tmp_path / "claimx_tasks"), {}, commit_retries=1
    )
    rows = writer.columns.typed(
        [
            {"assignment_id": i, "task_id": 7, "project_id": "1", "status": status}
            for i, status in enumerate(["ASSIGNED", "COMPLETED", "COMPLETED"])
        ]
    )
    writer.write([Contribution(("t", 0), 0, row) for row in rows], {("t", 0): 0})

    args = ["tables", "show", "claimx_tasks", "--where", "status = 'COMPLETED'", "--limit", "1"]
    result = CliRunner().invoke(cli, args, env=_env(tmp_path))
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    assert json.loads(line)["status"] == "COMPLETED"

    bad = CliRunner().invoke(cli, [*args[:3], "--where", "no_such_column = 1"], env=_env(tmp_path))
    assert bad.exit_code == 1
    assert "cannot query claimx_tasks" in bad.output


def test_show_of_a_table_not_written_yet_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["tables", "show", "claimx_video_collab"], env=_env(tmp_path))
    assert result.exit_code == 1
    assert "has not been written yet" in result.output
