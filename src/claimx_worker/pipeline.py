"""The per-event pipeline: on_event_received → enrichment → on_enrichment_complete → outputs.

For each consumed event: plugins may drop it before any API call; enrichment turns it into entity
rows and download tasks; plugins answer with actions. Actions run off the consumer path in the
:class:`~claimx_worker.actions.ActionExecutor`; the event is done (its offset may be committed)
only once its entity rows, download tasks and every action are acknowledged or dead-lettered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from attrs import define, field
from loguru import logger

from claimx_worker.actions import ActionExecutor, ActionOutcome
from claimx_worker.claimx import Enricher, download_task_messages, entity_rows_message
from claimx_worker.errors import ErrorCategory
from claimx_worker.kafka import FailedEvent, ProcessContext, Processor
from claimx_worker.kafka.settings import TopicSettings
from claimx_worker.model.context import EventFailure
from claimx_worker.model.event import ClaimXEvent, parse_event
from claimx_worker.model.row_changes import ChangeRows
from claimx_worker.plugins.host import PluginHost
from claimx_worker.plugins.runner import PluginAction


@define
class Pipeline:
    """Wires the plugin host, the enricher and the action executor into one processor."""

    _topics: TopicSettings = field(kw_only=True)
    _host: PluginHost = field(kw_only=True)
    _enricher: Enricher = field(kw_only=True)
    _executor: ActionExecutor = field(kw_only=True)
    _on_stop: Callable[[], Awaitable[None]] | None = field(default=None, kw_only=True)

    def processor(self) -> Processor[ClaimXEvent]:
        """The :class:`~claimx_worker.kafka.Processor` the Kafka runtime runs."""
        return Processor(
            decode=parse_event,
            process=self.process,
            on_failed=self.on_failed,
            on_stop=self.stop,
            output_topics=self._host.published_topics,
        )

    async def process(self, event: ClaimXEvent, ctx: ProcessContext) -> None:
        """Run one event; enrichment errors propagate to the runtime's retry/DLQ routing."""
        # The runtime runs process() eagerly, in its own fetch task, up to the first suspension.
        # Suspend at once, so that what follows runs in this event's task: a TaskGroup (the
        # concurrent API calls) or asyncio.timeout (plugin budgets) entered in the fetch task
        # would cancel the fetch task when a call fails or times out.
        await asyncio.sleep(0)
        received = await self._host.run_event_received(event)
        self._submit(event, received.actions, ctx)
        if received.filtered:
            logger.bind(event_id=event.event_id, filtered_by=received.filtered_by).debug(
                "Event dropped before enrichment"
            )
            return
        enrichment = await self._enricher.enrich(event)
        rows = enrichment.rows
        result = await self._host.run_enrichment_complete(event, rows, enrichment.metadata)
        self._submit(event, result.actions, ctx)
        changes = [
            plugin_action.action
            for plugin_action in result.actions
            if isinstance(plugin_action.action, ChangeRows)
        ]
        if result.filtered:
            logger.bind(event_id=event.event_id, filtered_by=result.filtered_by).debug(
                "Entity write skipped by plugin filter"
            )
            return
        if not rows.is_empty:
            key, value, headers = entity_rows_message(event, rows, changes)
            ctx.produce(self._topics.enriched, value, key, headers)
        for key, value, headers in download_task_messages(event, rows.download_tasks):
            ctx.produce(self._topics.downloads, value, key, headers)

    async def on_failed(self, failed: FailedEvent[ClaimXEvent]) -> None:
        """Show a dead-lettered event to ``on_event_failed`` and deliver the actions it returns."""
        if failed.item is None:  # undecodable: there is no event to show
            return
        failure = EventFailure(category=ErrorCategory(failed.category), message=failed.message)
        result = await self._host.run_event_failed(failed.item, failure)
        for plugin_action in result.actions:
            await self._start(failed.item, plugin_action)

    async def stop(self) -> None:
        """Called once by the runtime after draining: release what the pipeline holds."""
        if self._on_stop is not None:
            await self._on_stop()

    def _submit(
        self, event: ClaimXEvent, actions: tuple[PluginAction, ...], ctx: ProcessContext
    ) -> None:
        for plugin_action in actions:
            if not isinstance(plugin_action.action, ChangeRows):  # applied to the rows
                ctx.defer(self._start(event, plugin_action))

    def _start(
        self, event: ClaimXEvent, plugin_action: PluginAction
    ) -> asyncio.Future[ActionOutcome]:
        return self._executor.submit(
            event.event_id,
            event.project_id,
            plugin_action.instance,
            plugin_action.index,
            plugin_action.action,
        )
