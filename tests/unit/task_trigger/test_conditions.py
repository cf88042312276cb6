"""Trigger conditions: the original trigger's held-back behaviours and a loaded YAML config."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.task_trigger.support import task_event, task_row, task_rows
from tests.unit.task_trigger.test_config import load
from tests.unit.task_trigger.test_plugin import fire, loaded

from claimx_worker import EntityRows, PublishToTopic
from claimx_worker.config.problems import ConfigError

CONFIG_TEXT = """
triggers:
  456:
    name: Photo in Texas
    conditions:
      all:
        - {field: task_status, in: [COMPLETED, APPROVED]}
        - {field: task_name, prefix: Photo}
        - {field: project_id, not_in: [99999]}
    on_completed:
      publish_to_topic: claimx.task-triggers
"""


def test_conditions_read_the_first_task_row(tmp_path: Path) -> None:
    config = load(tmp_path, CONFIG_TEXT)
    plugin = loaded(config)
    event = task_event("CUSTOM_TASK_COMPLETED")
    first_matches = EntityRows(tasks=(task_row(456), task_row(456, status="CANCELLED")))
    first_fails = EntityRows(tasks=(task_row(456, status="CANCELLED"), task_row(456)))

    fired = fire(plugin, event, first_matches, config)
    assert fired is not None
    assert isinstance(fired[0], PublishToTopic)
    assert fire(plugin, event, first_fails, config) is None


@pytest.mark.parametrize(
    ("status", "fires"), [("COMPLETED", True), ("APPROVED", True), ("OPEN", False)]
)
def test_in_lists_match_any_listed_value(tmp_path: Path, status: str, fires: bool) -> None:
    config = load(tmp_path, CONFIG_TEXT)
    rows = task_rows(task_row(456, status=status))
    assert (fire(loaded(config), task_event(), rows, config) is not None) is fires


def test_not_in_with_a_number_for_the_string_project_id(tmp_path: Path) -> None:
    config = load(tmp_path, CONFIG_TEXT)
    event = task_event(project_id="99999")
    rows = task_rows(task_row(456, project_id="99999"))
    assert fire(loaded(config), event, rows, config) is None


def test_unknown_fields_are_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, CONFIG_TEXT.replace("task_name, prefix", "task_nme, prefix"))
    (problem,) = caught.value.problems
    assert problem.line == 7
    assert problem.key == "config.triggers.456.conditions.all[1].field"
    assert "unknown field 'task_nme', did you mean 'task_name'" in problem.message


def test_a_trigger_without_conditions_fires_as_before(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        triggers:
          456:
            name: Photo
            on_completed: {publish_to_topic: claimx.task-triggers}
        """,
    )
    assert fire(loaded(config), task_event(), task_rows(task_row(456, status="X")), config)
