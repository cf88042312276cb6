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
from claimx_worker.actions.shadow import ShadowRecorder
from claimx_worker.actions.timing import ActionTimings
from claimx_worker.claimx import Enricher, download_task_messages, entity_rows_message
from claimx_worker.errors import ErrorCategory
from claimx_worker.kafka import FailedEvent, ProcessContext, Processor
from claimx_worker.kafka.settings import TopicSettings
from claimx_worker.model import Action
from claimx_worker.model.context import EventFailure
from claimx_worker.model.event import ClaimXEvent, parse_event
from claimx_worker.model.row_changes import ChangeRows
from claimx_worker.plugins.host import PluginHost
from claimx_worker.plugins.quarantine import PluginQuarantinedError
from claimx_worker.plugins.runner import PluginAction


@define
class Pipeline:
    """Wires the plugin host, the enricher and the action executor into one processor."""

    _topics: TopicSettings = field(kw_only=True)
    _host: PluginHost = field(kw_only=True)
    _enricher: Enricher = field(kw_only=True)
    _executor: ActionExecutor = field(kw_only=True)
    _timings: ActionTimings = field(kw_only=True)
    _shadow: ShadowRecorder | None = field(default=None, kw_only=True)
    """Records the actions of instances in shadow mode (``None``: run them)."""
    _on_stop: Callable[[], Awaitable[None]] | None = field(default=None, kw_only=True)

    def processor(self) -> Processor[ClaimXEvent]:
        """The :class:`~claimx_worker.kafka.Processor` the Kafka runtime runs."""
        return Processor(
            decode=parse_event,
            process=self.process,
            on_failed=self.on_failed,
            on_stop=self.stop,
            output_topics=self._output_topics(),
        )

    def _output_topics(self) -> frozenset[str]:
        """The topics the instances publish to, and the shadow topic when an instance is in
        shadow mode at start."""
        topics = self._host.published_topics
        if self._shadow is not None and self._host.shadow_instances:
            topics |= {self._shadow.topic}
        return topics

    async def process(self, event: ClaimXEvent, ctx: ProcessContext) -> None:
        """Run one event; enrichment errors propagate to the runtime's retry/DLQ routing."""
        # The runtime runs process() eagerly, in its own fetch task, up to the first suspension.
        # Suspend at once, so that what follows runs in this event's task: a TaskGroup (the
        # concurrent API calls) or asyncio.timeout (plugin budgets) entered in the fetch task
        # would cancel the fetch task when a call fails or times out.
        await asyncio.sleep(0)
        with self._host.session() as plugins:  # a reload waits for this event to finish
            _check_held(plugins.held_by())
            received = await plugins.run_event_received(event)
            _check_held(received.held_by)
            shadow = plugins.shadow
            self._submit(event, received.actions, ctx, shadow)
            if received.filtered:
                logger.bind(event_id=event.event_id, filtered_by=received.filtered_by).debug(
                    "Event dropped before enrichment"
                )
                return
            enrichment = await self._enricher.enrich(event)
            rows = enrichment.rows
            result = await plugins.run_enrichment_complete(event, rows, enrichment.metadata)
            _check_held(result.held_by)
        self._submit(event, result.actions, ctx, shadow)
        changes = [
            change
            for plugin_action in result.actions
            if (change := _row_change(plugin_action, shadow)) is not None
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
            await self._start(failed.item, plugin_action, self._host.shadow_instances)

    async def stop(self) -> None:
        """Called once by the runtime after draining: release what the pipeline holds."""
        if self._on_stop is not None:
            await self._on_stop()

    def _submit(
        self,
        event: ClaimXEvent,
        actions: tuple[PluginAction, ...],
        ctx: ProcessContext,
        shadow: frozenset[str],
    ) -> None:
        for plugin_action in actions:
            if (
                isinstance(plugin_action.action, ChangeRows)
                and plugin_action.instance not in shadow
            ):
                continue  # applied to the rows, not run
            ctx.defer(self._start(event, plugin_action, shadow, ctx.timestamp_ms))

    def _start(
        self,
        event: ClaimXEvent,
        plugin_action: PluginAction,
        shadow: frozenset[str],
        event_timestamp_ms: int | None = None,
    ) -> asyncio.Future[ActionOutcome] | asyncio.Future[None]:
        """Run the action (its latency counted from ``event_timestamp_ms``), or record it when
        its instance is in ``shadow`` mode."""
        ref = _action_ref(event, plugin_action)
        if plugin_action.instance in shadow and self._shadow is not None:
            return self._shadow.record(*ref)
        future = self._executor.submit(*ref)
        self._timings.track(
            future,
            instance=plugin_action.instance,
            action=plugin_action.action,
            event_timestamp_ms=event_timestamp_ms,
        )
        return future


def _row_change(plugin_action: PluginAction, shadow: frozenset[str]) -> ChangeRows | None:
    """The :class:`ChangeRows` of a live instance, which the pipeline applies to the rows (a
    shadow instance's is recorded like its other actions); ``None`` for any other action."""
    action = plugin_action.action
    if isinstance(action, ChangeRows) and plugin_action.instance not in shadow:
        return action
    return None


def _action_ref(
    event: ClaimXEvent, plugin_action: PluginAction
) -> tuple[str, str, str, int, Action]:
    """What names and carries an action: event id, project id, instance, index, action."""
    return (
        event.event_id,
        event.project_id,
        plugin_action.instance,
        plugin_action.index,
        plugin_action.action,
    )


def _check_held(instance: str | None) -> None:
    """Raise :class:`PluginQuarantinedError` (transient: the retry path) when ``instance``, a
    quarantined instance with policy ``hold``, holds the event."""
    if instance is not None:
        raise PluginQuarantinedError(
            f"plugin instance '{instance}' is quarantined (quarantine_policy: hold)"
        )
