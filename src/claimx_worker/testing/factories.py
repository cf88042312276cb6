"""Factories of realistic ClaimX events and of the entity rows their enrichment produces.

Events get deterministic defaults (project ``12345``, ids derived from it, a fixed time) and any
field can be overridden by name. Rows are not hand-written: :func:`make_rows` runs the worker's
own enrichment handlers against the ClaimX API simulator's generated data (seed 1) through an
in-memory transport, so they are exactly what enrichment builds, with no socket and no server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
import httpx
from prometheus_client import CollectorRegistry

from claimx_worker.claimx import ApiSettings, ClaimXApiClient, ClaimXMetrics, Enricher, Enrichment
from claimx_worker.claimx.handlers import HANDLERS
from claimx_worker.model import (
    TASK_EVENT_TYPES,
    ClaimXEvent,
    EntityRows,
    EventType,
    HandlerMetadata,
    parse_event,
)
from claimx_worker.model.rows import ROW_CLASSES
from claimx_worker.testing.claimx_api import SIMULATOR_TOKEN
from claimx_worker.testing.simulated_data import DEFAULT_TASK_TEMPLATE_IDS, SimulatedData

T = TypeVar("T")

DEFAULT_PROJECT_ID = "12345"
DEFAULT_TASK_ID = 456
"""The task template id of task rows (the id task triggers key on)."""
EVENT_TIME = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
"""``created_at`` of made events."""
ENRICHED_AT = datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC)
"""The audit columns (``created_at``, ``updated_at``, ``last_enriched_at``) of made rows."""
UNKNOWN_EVENT_TYPE = "PROJECT_ARCHIVED"
"""An event type the worker does not know: such events pass through with no rows."""
DATA_SEED = 1
"""Seed of the generated data (the ``claimx_api`` fixture and ``simulate --simulator`` use it)."""
SAMPLE_API_URL = "https://claimx.example/service/cxedirest"

EVENT_FIELDS = tuple(attribute.name for attribute in attrs.fields(ClaimXEvent))
ROW_LISTS = tuple(ROW_CLASSES)


def make_event(event_type: str | EventType, **overrides: Any) -> ClaimXEvent:
    """A raw event of ``event_type`` (any of the ten, case-insensitive, or an unknown string).

    Defaults: project ``12345``; the type's own id derived from the project id (assignment
    ``<project>678`` or near it, one whose task is completed for ``CUSTOM_TASK_COMPLETED`` and
    not for ``CUSTOM_TASK_ASSIGNED``; media ``<project>000``; video collaboration
    ``<project>01``; master file name ``MFN-<project>``); ``created_at``
    2024-05-01T12:00:00Z; an ``event_id`` hashed from the other fields, as upstream does.
    ``overrides`` set any :class:`ClaimXEvent` field by name and go through the worker's event
    parsing (ids may be ints, ``created_at`` an ISO string).
    """
    unknown = sorted(set(overrides) - set(EVENT_FIELDS))
    if unknown:
        raise TypeError(f"make_event(): unknown field(s) {unknown}; fields: {list(EVENT_FIELDS)}")
    kind = _event_type(event_type)
    project_id = str(overrides.get("project_id", DEFAULT_PROJECT_ID))
    fields: dict[str, Any] = {
        "event_type": kind,
        "project_id": project_id,
        "created_at": EVENT_TIME,
        **_type_ids(kind, project_id),
        **overrides,
    }
    if "event_id" not in fields:
        fields["event_id"] = _event_id(fields)
    return parse_event(fields)


def make_rows(event: ClaimXEvent, **overrides: Any) -> EntityRows:
    """The entity rows enrichment produces for ``event`` (empty for an unknown type).

    ``task_id`` picks the task template of task events (default 456). Any other keyword is
    either a row list name (``projects``, ``tasks``, ..., ``download_tasks``) given a sequence
    of rows to use instead, or a mapping of columns to set on every row of that list
    (``tasks={"status": "CANCELLED"}``); or a column name set on every row that has it
    (``project_id="9"`` changes every row). Raises the enrichment's
    :class:`~claimx_worker.errors.PermanentError` for an event enrichment rejects (a task event
    without a numeric ``task_assignment_id``).
    """
    return sample_enrichment(event, **overrides).rows


def make_enriched_event(
    event_type: str | EventType, **overrides: Any
) -> tuple[ClaimXEvent, EntityRows]:
    """An event and its rows: event field overrides go to :func:`make_event` (the rows follow
    the event's ids), the others to :func:`make_rows`."""
    event_overrides = {k: v for k, v in overrides.items() if k in EVENT_FIELDS}
    row_overrides = {k: v for k, v in overrides.items() if k not in EVENT_FIELDS}
    event = make_event(event_type, **event_overrides)
    return event, make_rows(event, **row_overrides)


def sample_enrichment(event: ClaimXEvent, **overrides: Any) -> Enrichment:
    """Rows and handler metadata of ``event`` (see :func:`make_rows` for ``overrides``)."""
    task_id = int(overrides.pop("task_id", DEFAULT_TASK_ID))
    plan = _RowOverrides.parse(overrides)
    if event.known_type is None:
        enrichment = Enrichment(rows=EntityRows(), metadata=HandlerMetadata())
    else:
        enrichment = _run_sync(_enrich(event, task_id))
    rows = plan.apply(enrichment.rows)
    metadata = attrs.evolve(enrichment.metadata, duration_ms=0.0)
    return Enrichment(rows=rows, metadata=metadata)


def handler_metadata(event: ClaimXEvent) -> HandlerMetadata:
    """The metadata enrichment reports for ``event``'s type (no API call counted)."""
    known = event.known_type
    return HandlerMetadata(handler=None if known is None else HANDLERS[known].name)


def _event_type(event_type: str | EventType) -> str:
    try:
        return EventType(str(event_type).upper()).value
    except ValueError:
        return str(event_type)


def _numeric(project_id: str) -> int:
    """The project id as a number (a stable one for non-numeric ids)."""
    if project_id.isdigit():
        return int(project_id)
    return int.from_bytes(hashlib.sha256(project_id.encode()).digest()[:3], "big")


def _type_ids(kind: str, project_id: str) -> dict[str, str]:
    number = _numeric(project_id)
    if kind in TASK_EVENT_TYPES:
        return {"task_assignment_id": _assignment_id(number, kind)}
    if kind == EventType.PROJECT_FILE_ADDED:
        return {"media_id": str(number * 1000)}
    if kind in (
        EventType.VIDEO_COLLABORATION_INVITE_SENT,
        EventType.VIDEO_COLLABORATION_COMPLETED,
    ):
        return {"video_collaboration_id": str(number * 100 + 1)}
    if kind == EventType.PROJECT_MFN_ADDED:
        return {"master_file_name": f"MFN-{project_id}"}
    return {}


def _assignment_id(number: int, kind: str) -> str:
    """``<project>678`` or the next id (step 3) the simulator serves with the status that fits
    the event (``COMPLETED`` for a completed task) and with template 456, the simulator's
    template of ids divisible by 3; so ``simulate --simulator`` agrees with :func:`make_rows`."""
    wanted = "COMPLETED" if kind == EventType.CUSTOM_TASK_COMPLETED else "ASSIGNED"
    data = SimulatedData(DATA_SEED)
    start = number * 1000 + 678
    start += -start % len(DEFAULT_TASK_TEMPLATE_IDS)
    for candidate in range(start, start + 300, len(DEFAULT_TASK_TEMPLATE_IDS)):
        if data.assignment(candidate, DEFAULT_TASK_TEMPLATE_IDS)["status"] == wanted:
            return str(candidate)
    return str(start)


def _event_id(fields: Mapping[str, Any]) -> str:
    parts = [str(fields.get(name, "")) for name in EVENT_FIELDS if name != "event_id"]
    return "evt-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


async def _enrich(event: ClaimXEvent, task_id: int) -> Enrichment:
    source = _SampleApi((task_id,))
    settings = ApiSettings(base_url=SAMPLE_API_URL, token=SIMULATOR_TOKEN, retries=0)
    metrics = ClaimXMetrics(CollectorRegistry())
    client = ClaimXApiClient(settings, metrics=metrics, transport=httpx.MockTransport(source))
    async with Enricher(client, metrics=metrics, now=lambda: ENRICHED_AT) as enricher:
        return await enricher.enrich(event)


def _run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion, also when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class _SampleApi:
    """The simulator's generated data served through ``httpx.MockTransport`` (no socket).

    Unlike the simulator it serves any media id asked for, so every event can be enriched.
    """

    def __init__(self, template_ids: tuple[int, ...]) -> None:
        self._data = SimulatedData(DATA_SEED)
        self._template_ids = template_ids

    def __call__(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.removeprefix(httpx.URL(SAMPLE_API_URL).path).strip("/").split("/")
        match parts:
            case ["export", "project", project_id]:
                return httpx.Response(200, json={"data": self._data.project(_numeric(project_id))})
            case ["export", "project", project_id, "media"]:
                return httpx.Response(200, json=self._media(project_id, request))
            case ["customTasks", "assignment", assignment_id]:
                return httpx.Response(
                    200, json=self._data.assignment(int(assignment_id), self._template_ids)
                )
            case ["data"]:
                body = json.loads(request.content or b"{}")
                rows = self._data.video_collaborations(_numeric(str(body.get("projectId", ""))))
                return httpx.Response(200, json={"data": rows})
        return httpx.Response(404, json={"error": "not found"})

    def _media(self, project_id: str, request: httpx.Request) -> list[dict[str, Any]]:
        items = self._data.media(_numeric(project_id), SAMPLE_API_URL)
        wanted = [part for part in request.url.params.get("mediaIds", "").split(",") if part]
        if not wanted:
            return items
        by_id = {str(item["mediaID"]): item for item in items}
        return [by_id.get(media_id) or _media_like(items[0], media_id) for media_id in wanted]


def _media_like(item: Mapping[str, Any], media_id: str) -> dict[str, Any]:
    return {
        **item,
        "mediaID": media_id,
        "mediaName": f"photo_{media_id}.jpg",
        "fullDownloadLink": f"{SAMPLE_API_URL}/download/{media_id}?signature=sample",
    }


@attrs.frozen
class _RowOverrides:
    """``make_rows`` keywords sorted into list replacements, per-list and per-column updates."""

    lists: Mapping[str, tuple[Any, ...]]
    per_list: Mapping[str, Mapping[str, Any]]
    columns: Mapping[str, Any]

    @classmethod
    def parse(cls, overrides: Mapping[str, Any]) -> _RowOverrides:
        lists: dict[str, tuple[Any, ...]] = {}
        per_list: dict[str, Mapping[str, Any]] = {}
        columns: dict[str, Any] = {}
        known_columns = _row_columns()
        for name, value in overrides.items():
            if name in ROW_LISTS and isinstance(value, Mapping):
                bad = sorted(set(value) - known_columns[name])
                if bad:
                    raise TypeError(f"make_rows(): {name} rows have no column(s) {bad}")
                per_list[name] = value
            elif name in ROW_LISTS:
                lists[name] = tuple(_sequence(name, value))
            elif any(name in names for names in known_columns.values()):
                columns[name] = value
            else:
                raise TypeError(
                    f"make_rows(): {name!r} is neither a row list ({', '.join(ROW_LISTS)}) "
                    "nor a column of any row"
                )
        return cls(lists, per_list, columns)

    def apply(self, rows: EntityRows) -> EntityRows:
        changes: dict[str, tuple[Any, ...]] = {}
        for name in ROW_LISTS:
            current: tuple[Any, ...] = getattr(rows, name)
            if name in self.lists:
                changes[name] = self.lists[name]
                continue
            updated = tuple(self._update(name, row) for row in current)
            if updated != current:
                changes[name] = updated
        return rows.replace(**changes) if changes else rows

    def _update(self, name: str, row: Any) -> Any:
        fields = attrs.fields_dict(type(row))
        values = {k: v for k, v in self.columns.items() if k in fields}
        values.update(self.per_list.get(name, {}))
        return attrs.evolve(row, **values) if values else row


def _row_columns() -> dict[str, set[str]]:
    """Column names per row list (``tasks`` -> the fields of ``TaskRow``)."""
    return {name: set(attrs.fields_dict(row_class)) for name, row_class in ROW_CLASSES.items()}


def _sequence(name: str, value: Any) -> Iterable[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"make_rows(): {name} takes a sequence of rows or a mapping of columns")
    return value
