"""The ``task_trigger`` plugin: configured actions when a ClaimX task is assigned or completed."""

from __future__ import annotations

from typing import Any

from loguru import logger

from claimx_plugin_task_trigger.compiled import Routes, compile_routes, published_topics
from claimx_plugin_task_trigger.config import TaskTriggerConfig
from claimx_plugin_task_trigger.explain import explain
from claimx_plugin_task_trigger.payload import PayloadBuilder
from claimx_worker import Action, Plugin, PluginContext, hookimpl, log_enabled


class TaskTriggerPlugin(Plugin[TaskTriggerConfig]):
    """Matches task events on the first task row's template id (and the trigger's conditions)
    and returns the trigger's actions.

    One object per configured instance; the lookup tables are built in ``on_load``.
    """

    config_class = TaskTriggerConfig

    def __init__(self) -> None:
        self._config = TaskTriggerConfig(triggers={})
        self._routes: Routes = {}
        self._payloads = PayloadBuilder(include_task_data=True, include_project_data=False)

    @hookimpl
    def on_load(self, config: TaskTriggerConfig) -> None:
        """Compile the triggers of this instance's config."""
        self._config = config
        self._routes = compile_routes(config)
        self._payloads = PayloadBuilder(
            include_task_data=config.include_task_data,
            include_project_data=config.include_project_data,
        )

    @hookimpl
    def published_topics(self) -> set[str]:
        """The topics this instance's ``publish_to_topic`` actions write to."""
        return published_topics(self._routes)

    @hookimpl
    def on_enrichment_complete(
        self, context: PluginContext[TaskTriggerConfig]
    ) -> list[Action] | None:
        """The matched trigger's actions (specific block, then ``on_any``), or None."""
        triggers = self._routes.get(context.event.event_type)
        if triggers is None:
            return None
        rows = context.rows
        tasks = rows.columns("tasks")  # the columns as written: no typed row is made
        if not tasks:
            return None
        task = tasks[0]
        trigger = triggers.get(task["task_id"])
        if trigger is None:
            if log_enabled("debug"):  # the per-event miss path: cheaper than a filtered call
                logger.debug("No task trigger for the task template", task_id=task["task_id"])
            return None
        conditions = trigger.conditions
        if conditions is not None and not conditions.matches(context.event, rows):
            if log_enabled("debug"):
                logger.debug(
                    "Task trigger conditions not met",
                    trigger_name=trigger.name,
                    task_id=task["task_id"],
                )
            return None
        projects = rows.columns("projects")
        project = projects[0] if projects else None
        payload = self._payloads.build(trigger.name, context.event, task, project)
        actions = trigger.build(payload, task, project)
        trigger.matched_line.emit()
        return actions

    @hookimpl
    def explain_match(self, context: PluginContext[TaskTriggerConfig]) -> list[dict[str, Any]]:
        """Why each trigger matched the event or not (``simulate --explain``)."""
        return explain(self._config, self._routes, context.event, context.rows)
