"""The task trigger wheel, installed beside claimx-worker in a fresh venv, is found and runs."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.unit.task_trigger.support import PAYLOAD_KEYS
from tests.wheels import FreshVenv

pytestmark = pytest.mark.slow

INSTANCE = """\
name: photos
plugin: task_trigger
config:
  include_project_data: true
  triggers:
    456:
      name: "Photo Documentation Task"
      on_completed:
        publish_to_topic: claimx.task-triggers
        webhook:
          url: "${HOOK_URL}"
          headers: {Authorization: "Bearer ${WEBHOOK_TOKEN}"}
      on_any:
        metric: photo_documentation_tasks
"""

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from datetime import UTC, datetime
    from importlib.metadata import entry_points
    from pathlib import Path

    from prometheus_client import CollectorRegistry

    from claimx_worker import ClaimXEvent, EntityRows, HandlerMetadata, ProjectRow, TaskRow
    from claimx_worker import converter
    from claimx_worker.plugins.host import PluginHost

    async def main():
        (entry,) = [e for e in entry_points(group="claimx.plugins") if e.name == "task_trigger"]
        host = PluginHost.load(Path("plugins"), env=os.environ, registry=CollectorRegistry())
        await host.start()
        now = datetime(2024, 5, 1, 12, tzinfo=UTC)
        event = ClaimXEvent(event_id="evt-1", event_type="CUSTOM_TASK_COMPLETED",
                            project_id="12345", task_assignment_id="98765")
        task = TaskRow(assignment_id=98765, task_id=456, project_id="12345",
                       task_name="Photo Documentation", status="COMPLETED", date_completed=now)
        rows = EntityRows(tasks=(task,), projects=(ProjectRow(project_id="12345"),))
        result = await host.run_enrichment_complete(event, rows, HandlerMetadata())
        miss = await host.run_enrichment_complete(
            event, EntityRows(tasks=(TaskRow(assignment_id=1, task_id=7, project_id="1"),)),
            HandlerMetadata())
        await host.stop()
        print(json.dumps({
            "entry_point": entry.value,
            "distribution": entry.dist.name,
            "origin": host.instances[0].origin,
            "plugin_file": sys.modules["claimx_plugin_task_trigger"].__file__,
            "actions": [
                {"instance": a.instance, "index": a.index, "type": type(a.action).__name__,
                 **converter.unstructure(a.action)}
                for a in result.actions
            ],
            "miss": len(miss.actions),
        }))

    asyncio.run(main())
    """
)


def test_installed_wheel_is_discovered_and_fires(
    worker_wheel: Path, task_trigger_wheel: Path, fresh_venv: FreshVenv, tmp_path: Path
) -> None:
    python = fresh_venv([worker_wheel, task_trigger_wheel])
    work = tmp_path / "work"
    (work / "plugins" / "photos").mkdir(parents=True)
    (work / "plugins" / "photos" / "config.yaml").write_text(INSTANCE)

    done = subprocess.run(
        [str(python), "-c", SCRIPT],
        capture_output=True,
        text=True,
        cwd=work,
        env={"HOOK_URL": "http://127.0.0.1:9/hook", "WEBHOOK_TOKEN": "tok-wheel-test"},
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)

    assert found["entry_point"] == "claimx_plugin_task_trigger:TaskTriggerPlugin"
    assert found["distribution"] == "claimx-plugin-task-trigger"
    assert found["origin"].startswith("entry point 'task_trigger' (claimx-plugin-task-trigger ")
    assert found["plugin_file"].startswith(str(python.parent.parent))
    publish, webhook, metric = found["actions"]
    assert [(a["instance"], a["index"], a["type"]) for a in found["actions"]] == [
        ("photos", 0, "PublishToTopic"),
        ("photos", 1, "Webhook"),
        ("photos", 2, "Metric"),
    ]
    payload = publish["value"]
    assert (publish["topic"], publish["key"]) == ("claimx.task-triggers", "12345")
    assert publish["headers"] == {
        "trigger_name": "Photo Documentation Task",
        "task_id": "456",
        "event_type": "CUSTOM_TASK_COMPLETED",
        "event_id": "evt-1",
        "x-trigger-name": "Photo Documentation Task",
        "x-task-id": "456",
        "x-event-type": "CUSTOM_TASK_COMPLETED",
    }
    assert list(payload) == list(PAYLOAD_KEYS)
    assert payload["task"]["date_completed"] == "2024-05-01T12:00:00.000Z"
    assert payload["project"]["project_id"] == "12345"
    assert webhook["url"] == "http://127.0.0.1:9/hook"
    assert webhook["headers"] == {"Authorization": "Bearer tok-wheel-test"}
    assert webhook["body"] == payload
    assert (metric["name"], metric["value"]) == ("photo_documentation_tasks", 1.0)
    assert found["miss"] == 0
