"""The plugin hook contract (pluggy project ``claimx``): the only place hooks are declared.

Hooks are called with keyword arguments; an implementation declares the subset it needs (more
arguments may be added later without breaking it). Any hook may be ``async def``. The host calls
each instance on its own, in priority order, so one instance's failure never reaches another:
an exception, a timeout or an invalid return value is logged with the instance name, counted,
and ignored. A method marked ``@hookimpl`` whose name is not declared here (a misspelling) is a
load error, and so is a ``@hookimpl`` option the host does not honour: of pluggy's options only
``specname`` is accepted (the order of the instances is their ``priority``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pluggy

from claimx_worker.model.actions import Action, Filter
from claimx_worker.model.context import EventFailure, PluginContext

PROJECT_NAME = "claimx"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Mark a plugin method as a hook implementation: ``@hookimpl def on_load(self, config): ...``."""

ActionResult = Sequence[Action] | Action | None
"""What ``on_enrichment_complete`` and ``on_event_failed`` may return."""


class ClaimXHookSpecs:
    """The hook specifications. Implementations are methods of a plugin class."""

    @hookspec
    def on_load(self, config: Any, instance_name: str) -> None:
        """Called once at worker start, in priority order, with the validated config.

        An exception stops start-up (exit code 2, naming the instance): a half-loaded plugin
        would silently miss events. ``claimx-worker plugins validate`` does not call it.
        """

    @hookspec
    def published_topics(self, instance_name: str) -> Iterable[str] | None:
        """The Kafka topics this instance's actions publish to; called once, after ``on_load``.

        The worker checks at start that they exist, with its own topics (exit code 2 naming the
        missing ones; ``kafka.create_topics: true`` creates them). Leave it out when the topics
        are only known per event: a publish to a missing topic is retried, then dead-lettered.
        An exception or a value that is not a collection of names stops start-up like ``on_load``.
        """

    @hookspec
    def on_unload(self, instance_name: str) -> None:
        """Called once at worker stop, in reverse priority order. Errors are logged, not raised."""

    @hookspec
    def on_event_received(self, context: PluginContext[Any]) -> Filter | None:
        """Called before enrichment (before any API call); ``context.rows`` is empty.

        Return :class:`~claimx_worker.Filter` to drop the event: no API call, no entity write, no
        lower-priority instance. Return ``None`` to let it through. Anything else is invalid.
        """

    @hookspec
    def on_enrichment_complete(self, context: PluginContext[Any]) -> ActionResult:
        """Called after enrichment with the entity rows; returns actions (a sequence, one, or None).

        A :class:`~claimx_worker.Filter` among them skips the entity write and every
        lower-priority instance; the other actions returned so far still run.
        """

    @hookspec
    def on_event_failed(self, context: PluginContext[Any], error: EventFailure) -> ActionResult:
        """Called for an event that went to the DLQ; ``error`` holds its category and message.

        ``context.rows`` holds whatever enrichment produced (often nothing). Returned actions run
        (e.g. an alert webhook); a ``Filter`` is meaningless here and counted as invalid.
        """

    @hookspec
    def explain_match(self, context: PluginContext[Any]) -> Iterable[Mapping[str, Any]] | None:
        """Why each of this instance's rules matched the event or not, for
        ``claimx-worker simulate --explain`` only (never called by ``run``): one JSON-able
        mapping per rule, with at least ``name`` and ``matched`` (and ``reasons``: lines saying
        why not). ``context`` is the one ``on_enrichment_complete`` got.
        """


HOOK_NAMES: tuple[str, ...] = tuple(
    name for name in vars(ClaimXHookSpecs) if not name.startswith("_")
)
"""The hooks of the contract, in declaration order."""
