"""Why each trigger matched an event or not, for ``claimx-worker simulate --explain``."""

from __future__ import annotations

from typing import Any

from claimx_plugin_task_trigger.compiled import Routes
from claimx_plugin_task_trigger.config import TaskTriggerConfig
from claimx_worker import ClaimXEvent, EntityRows


def explain(
    config: TaskTriggerConfig, routes: Routes, event: ClaimXEvent, rows: EntityRows
) -> list[dict[str, Any]]:
    """One entry per trigger: ``name``, ``template_id``, ``matched``, ``reasons`` (why not),
    ``conditions`` (each test with the value it saw) and ``details`` (the same as text)."""
    task = rows.first_task
    triggers = routes.get(event.event_type)
    explained = []
    for template_id, trigger in config.triggers.items():
        reasons: list[str] = []
        if triggers is None:
            reasons.append(f"event type {event.event_type} is not a task event a trigger fires on")
        elif template_id not in triggers:
            reasons.append(f"no block fires on {event.event_type} (nor on_any)")
        if task is None:
            reasons.append("the event has no task row")
        elif task.task_id != template_id:
            reasons.append(f"the task's template id is {task.task_id}, not {template_id}")
        compiled = None if triggers is None else triggers.get(template_id)
        report = None
        if compiled is not None and compiled.conditions is not None:
            report = compiled.conditions.explain(event, rows)
            if not report.matched:
                reasons.append("conditions not met")
        explained.append(
            {
                "name": trigger.name,
                "template_id": template_id,
                "event_type": event.event_type,
                "matched": not reasons,
                "reasons": reasons,
                "conditions": None if report is None else report.to_json(),
                "details": [] if report is None else report.lines(),
            }
        )
    return explained
