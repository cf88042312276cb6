"""``claimx-worker simulate --explain``: why each instance and trigger matched or not, with every
condition and the value it saw, as text and as JSON."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from claimx_worker.cli import cli

pytestmark = pytest.mark.usefixtures("restore_logging")

INSTANCE = """
plugin: task_trigger
conditions:
  all:
    - {field: event_type, prefix: CUSTOM_TASK_}
config:
  triggers:
    456:
      name: Photo
      conditions:
        all:
          - {field: project.type_of_loss, in: [FIRE, HAIL]}
          - {field: project_id, equals: 99999}
      on_completed: {log: "done {task_id}"}
    789:
      name: Damage
      on_any: {log: "damage {task_id}"}
"""


def invoke(tmp_path: Path, *args: str) -> Result:
    plugins = tmp_path / "plugins"
    (plugins / "tt").mkdir(parents=True, exist_ok=True)
    (plugins / "tt" / "config.yaml").write_text(textwrap.dedent(INSTANCE).lstrip("\n"))
    example = CliRunner().invoke(
        cli, ["simulate", "--example", "CUSTOM_TASK_COMPLETED", "--enriched"]
    )
    assert example.exit_code == 0, example.output
    event = tmp_path / "event.json"
    event.write_text(example.stdout)
    return CliRunner().invoke(
        cli,
        ["simulate", "--enriched", "--plugins-dir", str(plugins), str(event), *args],
        catch_exceptions=False,
    )


def test_explain_as_text_names_each_trigger_and_each_test_with_its_value(tmp_path: Path) -> None:
    result = invoke(tmp_path, "--explain")

    assert result.exit_code == 0, result.output
    explained = result.stdout.split("Why each instance and rule matched or not:\n")[1]
    assert explained.splitlines()[:8] == [
        "  tt (instance conditions met)",
        "    all: matched",
        "      [yes] event_type prefix 'CUSTOM_TASK_' (saw 'CUSTOM_TASK_COMPLETED')",
        "    [not matched] Photo: conditions not met",
        "      all: not matched",
        "        [yes] project.type_of_loss in ['FIRE', 'HAIL'] (saw 'FIRE')",
        "        [NO ] project_id equals '99999' (saw '12345')",
        "    [not matched] Damage: the task's template id is 456, not 789",
    ]


def test_explain_as_json(tmp_path: Path) -> None:
    result = invoke(tmp_path, "--explain", "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["actions"] == []
    (instance,) = document["explain"]
    assert (instance["instance"], instance["matched"]) == ("tt", True)
    photo, damage = instance["rules"]
    assert (photo["name"], photo["matched"], photo["reasons"]) == (
        "Photo",
        False,
        ["conditions not met"],
    )
    assert photo["conditions"]["all"][1] == {
        "field": "project_id",
        "operator": "equals",
        "expected": "99999",
        "seen": "12345",
        "matched": False,
    }
    assert damage["reasons"] == ["the task's template id is 456, not 789"]


def test_without_explain_the_json_stays_a_list(tmp_path: Path) -> None:
    result = invoke(tmp_path, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
