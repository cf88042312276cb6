"""Payload templates: output keys from paths, constants and placeholder strings; checked at load."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.task_trigger.support import project_row, task_event, task_row
from tests.unit.task_trigger.test_config import load
from tests.unit.task_trigger.test_plugin import fire, loaded

from claimx_worker import EntityRows, PublishToTopic, Webhook
from claimx_worker.config.problems import ConfigError

TEMPLATE = """
triggers:
  456:
    name: Photo
    on_completed:
      publish_to_topic:
        topic: claimx.crm
        payload:
          contact:
            project: {path: project_id}
            state: {path: project.state_province}
            assigned: {path: task.date_assigned}
          summary: "{task_name} done on {project_id}"
          source: {value: claimx}
          version: 2
          flags: [a, b]
          literal: {value: {path: not-a-lookup}}
      webhook:
        url: https://hooks.example.com/x
        payload:
          id: {path: task_id}
          task: {path: task}
"""


def test_a_template_shapes_the_payload(tmp_path: Path) -> None:
    config = load(tmp_path, TEMPLATE)
    rows = EntityRows(tasks=(task_row(456),), projects=(project_row(),))
    actions = fire(loaded(config), task_event(), rows, config)
    assert actions is not None
    publish, webhook = actions
    assert isinstance(publish, PublishToTopic)
    assert isinstance(webhook, Webhook)
    assert publish.value == {
        "contact": {
            "project": "12345",
            "state": rows.projects[0].state_province,
            "assigned": "2024-04-30T09:15:00.000Z",
        },
        "summary": "Photo Documentation done on 12345",
        "source": "claimx",
        "version": 2,
        "flags": ["a", "b"],
        "literal": {"path": "not-a-lookup"},
    }
    assert webhook.body["id"] == 456
    assert webhook.body["task"]["assignment_id"] == 98765
    assert publish.headers["x-task-id"] == "456"  # headers still come from the default payload


def test_a_missing_project_gives_null(tmp_path: Path) -> None:
    config = load(tmp_path, TEMPLATE)
    actions = fire(loaded(config), task_event(), EntityRows(tasks=(task_row(456),)), config)
    assert actions is not None
    assert isinstance(actions[0], PublishToTopic)
    assert actions[0].value["contact"]["state"] is None


def test_without_a_template_the_default_payload_is_unchanged(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        triggers:
          456:
            name: Photo
            on_completed: {publish_to_topic: claimx.t}
        """,
    )
    actions = fire(loaded(config), task_event(), EntityRows(tasks=(task_row(456),)), config)
    assert actions is not None
    assert isinstance(actions[0], PublishToTopic)
    assert list(actions[0].value)[:3] == ["trigger_name", "event_id", "event_type"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("x: {path: project.nope}", "payload.x: unknown path 'project.nope'"),
        ("x: {path: nope}", "payload.x: unknown path 'nope'"),
        ("a: {b: {path: task.nope}}", "payload.a.b: unknown path 'task.nope'"),
        ('x: "{nope}"', "payload.x: unknown placeholder {nope}"),
    ],
)
def test_unknown_paths_and_placeholders_are_refused_at_load(
    tmp_path: Path, entry: str, message: str
) -> None:
    text = f"""
    triggers:
      456:
        name: Photo
        on_completed:
          publish_to_topic:
            topic: t
            payload:
              {entry}
    """
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    (problem,) = caught.value.problems
    assert problem.line == 7
    assert problem.key == "config.triggers.456.on_completed.publish_to_topic.payload"
    assert message in problem.message
