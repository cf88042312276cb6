"""One handler per ClaimX event type: the API calls it makes and the rows it builds.

Every handler that fetches anything also returns the project row, because plugins
(``include_project_data``) read it from the event's rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from attrs import frozen

from claimx_worker.claimx import builders
from claimx_worker.claimx.builders import ProjectExport, Stamp
from claimx_worker.claimx.client import ApiCallTally, ClaimXApiClient
from claimx_worker.claimx.parsing import integer, mapping, record, records
from claimx_worker.claimx.projects import ProjectCache
from claimx_worker.errors import PermanentError, ProcessingError
from claimx_worker.model import ClaimXEvent, EntityRows, EventType
from claimx_worker.model.rows import Columns

A = TypeVar("A")
B = TypeVar("B")


@frozen(kw_only=True)
class HandlerContext:
    """What a handler works with: the event, the API client and project cache, the event's
    call tally and row stamp."""

    event: ClaimXEvent
    client: ClaimXApiClient
    projects: ProjectCache
    tally: ApiCallTally
    stamp: Stamp

    async def project(self, *, fresh: bool = False) -> ProjectExport:
        """The event's project export (shared and briefly cached unless ``fresh``)."""
        return await self.projects.get(self.event.project_id, self.tally, fresh=fresh)

    async def with_project(self, call: Awaitable[A]) -> tuple[A, ProjectExport]:
        """Await ``call`` and the project export, concurrently unless the export is cached."""
        cached = self.projects.cached(self.event.project_id)
        if cached is not None:
            return await call, cached
        return await _both(call, self.project())

    def project_row(self, export: ProjectExport, **event_columns: Any) -> Columns:
        """The event's project row from ``export`` with ``event_columns`` laid over it."""
        return builders.project_row(export, self.event.project_id, self.stamp, **event_columns)

    def only_project(self, export: ProjectExport, **event_columns: Any) -> EntityRows:
        """Rows holding just the project row."""
        return EntityRows.from_columns(projects=[self.project_row(export, **event_columns)])


@frozen
class Handler:
    """A named enrichment step for one or more event types."""

    name: str
    run: Callable[[HandlerContext], Awaitable[EntityRows]]


async def _both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Await two calls concurrently (``second`` in a task of its own, ``first`` in the caller's);
    on failure cancel the call still running and raise one error: a permanent one first, then one
    that spends an attempt (a request failed), then a deferred one (not now)."""
    second_task = asyncio.ensure_future(second)
    try:
        first_result = await first
    except BaseException as first_error:
        if not second_task.done():
            second_task.cancel()
        errors = [first_error]
        try:
            await second_task
        except asyncio.CancelledError:
            pass
        except Exception as second_error:
            errors.append(second_error)
        permanent = [e for e in errors if isinstance(e, ProcessingError) and not e.retryable]
        spending = [e for e in errors if not isinstance(e, ProcessingError) or e.spends_attempt]
        raise (permanent or spending or errors)[0] from None
    return first_result, await second_task


async def _project_created(ctx: HandlerContext) -> EntityRows:
    export = await ctx.project(fresh=True)
    return EntityRows.from_columns(
        projects=[ctx.project_row(export)],
        contacts=builders.contact_rows(export, ctx.event.project_id, ctx.stamp),
    )


async def _project_mfn_added(ctx: HandlerContext) -> EntityRows:
    export = await ctx.project(fresh=True)
    if ctx.event.master_file_name:
        return ctx.only_project(export, master_file_name=ctx.event.master_file_name)
    return ctx.only_project(export)


async def _project_file_added(ctx: HandlerContext) -> EntityRows:
    event = ctx.event
    wanted = (event.media_id,) if event.media_id else ()
    media_payload, export = await ctx.with_project(
        ctx.client.get_project_media(event.project_id, ctx.tally, media_ids=wanted)
    )
    rows = [
        row
        for item in records(media_payload, "data", "media")
        if (row := builders.media_row(item, event.project_id, ctx.stamp)) is not None
    ]
    if event.media_id:
        rows = [row for row in rows if row["media_id"] == event.media_id]
        if not rows:
            raise PermanentError(
                f"media {event.media_id} is not among the media of project {event.project_id}"
            )
    return EntityRows.from_columns(
        projects=[ctx.project_row(export)],
        media=rows,
        download_tasks=tuple(t for row in rows if (t := builders.download_task(row)) is not None),
    )


def _assignment_id(event: ClaimXEvent) -> int:
    raw = event.task_assignment_id
    assignment_id = integer(raw) if raw and raw.strip().isdigit() else None
    if assignment_id is None:
        problem = "missing" if not raw else f"not numeric: {raw!r}"
        raise PermanentError(f"task_assignment_id {problem} on a {event.event_type} event")
    return assignment_id


async def _custom_task(ctx: HandlerContext) -> EntityRows:
    event = ctx.event
    assignment_id = _assignment_id(event)
    payload, export = await ctx.with_project(
        ctx.client.get_task_assignment(assignment_id, ctx.tally)
    )
    assignment = record(payload, "data")
    template = mapping(assignment.get("customTask"))
    task_id = integer(assignment.get("taskId"))
    if task_id is None:
        task_id = integer(template.get("taskId"))
    if task_id is None:
        raise PermanentError(f"task assignment {assignment_id}: the response has no taskId")
    link = mapping(assignment.get("externalLinkData"))
    template_row = builders.task_template_row(template, ctx.stamp)
    link_row = builders.external_link_row(link, assignment_id, event.project_id, ctx.stamp)
    contact = builders.link_contact_row(link, assignment_id, event.project_id, ctx.stamp)
    return EntityRows.from_columns(
        projects=[ctx.project_row(export)],
        contacts=[contact] if contact else [],
        tasks=[builders.task_row(assignment, assignment_id, task_id, event, ctx.stamp)],
        task_templates=[template_row] if template_row else [],
        external_links=[link_row] if link_row else [],
    )


async def _policyholder(ctx: HandlerContext) -> EntityRows:
    column = (
        "policyholder_invited_at"
        if ctx.event.event_type == EventType.POLICYHOLDER_INVITED
        else "policyholder_joined_at"
    )
    return ctx.only_project(await ctx.project(), **{column: ctx.stamp.now_text})


async def _video_collaboration(ctx: HandlerContext) -> EntityRows:
    event = ctx.event
    payload, export = await ctx.with_project(
        ctx.client.get_video_collaborations(event.project_id, ctx.tally)
    )
    items = records(payload, "data", "collaborations", "videoCollaboration")
    rows = [
        row
        for item in items
        if (row := builders.video_collab_row(item, event.project_id, ctx.stamp)) is not None
    ]
    return EntityRows.from_columns(projects=[ctx.project_row(export)], video_collab=rows)


async def _xa_linking_unsuccessful(ctx: HandlerContext) -> EntityRows:
    return ctx.only_project(
        ProjectExport.empty(), xa_autolink_fail=True, xa_autolink_fail_at=ctx.stamp.now_text
    )


def _handlers() -> Mapping[EventType, Handler]:
    task = Handler("custom_task", _custom_task)
    policyholder = Handler("policyholder", _policyholder)
    video = Handler("video_collaboration", _video_collaboration)
    return MappingProxyType(
        {
            EventType.PROJECT_CREATED: Handler("project_created", _project_created),
            EventType.PROJECT_MFN_ADDED: Handler("project_mfn_added", _project_mfn_added),
            EventType.PROJECT_FILE_ADDED: Handler("project_file_added", _project_file_added),
            EventType.CUSTOM_TASK_ASSIGNED: task,
            EventType.CUSTOM_TASK_COMPLETED: task,
            EventType.POLICYHOLDER_INVITED: policyholder,
            EventType.POLICYHOLDER_JOINED: policyholder,
            EventType.VIDEO_COLLABORATION_INVITE_SENT: video,
            EventType.VIDEO_COLLABORATION_COMPLETED: video,
            EventType.PROJECT_AUTO_XA_LINKING_UNSUCCESSFUL: Handler(
                "xa_linking_unsuccessful", _xa_linking_unsuccessful
            ),
        }
    )


HANDLERS: Mapping[EventType, Handler] = _handlers()
"""The handler of every known event type (read-only)."""
