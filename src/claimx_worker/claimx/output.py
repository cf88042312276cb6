"""Kafka messages for enrichment output: entity rows (``claimx.enriched``) and download tasks
(``claimx.downloads.pending``), JSON with ISO-8601 dates.

A downstream writer merges rows into tables by merge key, and a column absent from a row is left
unchanged. So a project row omits its event-driven columns when unset (a later project export must
not clear ``policyholder_joined_at``), and a minimal project row (no API column set, as built for
``PROJECT_AUTO_XA_LINKING_UNSUCCESSFUL``) omits every unset column.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Sequence
from typing import Any

import attrs
import orjson

from claimx_worker.model import ClaimXEvent, DownloadTask, EntityRows, ProjectRow, converter
from claimx_worker.model.row_changes import ChangeRows
from claimx_worker.model.rows import AUDIT_COLUMNS, EVENT_DRIVEN_PROJECT_COLUMNS

Headers = list[tuple[str, bytes]]
"""Kafka headers as confluent-kafka takes them."""

EVENT_ID_HEADER = "event_id"
EVENT_TYPE_HEADER = "event_type"

_API_PROJECT_COLUMNS = tuple(
    name
    for name in attrs.fields_dict(ProjectRow)
    if name != "project_id" and name not in AUDIT_COLUMNS | EVENT_DRIVEN_PROJECT_COLUMNS
)

_OTHER_PROJECT_COLUMNS = tuple(
    name
    for name in attrs.fields_dict(ProjectRow)
    if name != "project_id" and name not in _API_PROJECT_COLUMNS
)
"""The event-driven and audit columns, which follow the API columns in a project row."""
_api_values = operator.attrgetter(*_API_PROJECT_COLUMNS)
_ENCODED_API_COLUMNS: dict[tuple[Any, ...], dict[str, Any]] = {}
"""A project row's API columns as written (datetimes as text), by their values: events of one
project share its export, so they are encoded once per export instead of once per event. Each
column holds one type (the builders convert), so equal values encode alike."""
_ENCODED_CACHE_SIZE = 2048

_ROW_LISTS = (
    "contacts",
    "media",
    "tasks",
    "task_templates",
    "external_links",
    "video_collab",
)


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
"""Compact JSON for what orjson refuses (``json.dumps`` with options builds an encoder per
call)."""


def _dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON: orjson (about 15x faster than the standard encoder on an entity-rows
    message), the standard encoder for integers beyond 64 bits."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return _ENCODE(value).encode()


def _headers(event: ClaimXEvent) -> Headers:
    return [
        (EVENT_ID_HEADER, event.event_id.encode()),
        (EVENT_TYPE_HEADER, event.event_type.encode()),
    ]


def project_columns(row: ProjectRow) -> dict[str, Any]:
    """The columns of a project row as written to the entity-rows message."""
    values = _api_values(row)
    api = _ENCODED_API_COLUMNS.get(values)
    if api is None:
        if len(_ENCODED_API_COLUMNS) >= _ENCODED_CACHE_SIZE:
            _ENCODED_API_COLUMNS.clear()
        encoded = converter.unstructure(row, ProjectRow)
        minimal = all(value is None for value in values)
        api = {} if minimal else {name: encoded[name] for name in _API_PROJECT_COLUMNS}
        _ENCODED_API_COLUMNS[values] = api
    columns = {"project_id": row.project_id, **api}
    for name in _OTHER_PROJECT_COLUMNS:
        value = getattr(row, name)
        if value is not None:
            columns[name] = converter.unstructure(value)
        elif api and name not in EVENT_DRIVEN_PROJECT_COLUMNS:
            columns[name] = None
    return columns


def entity_rows_message(
    event: ClaimXEvent, rows: EntityRows, changes: Sequence[ChangeRows] = ()
) -> tuple[bytes, bytes, Headers]:
    """``(key, value, headers)`` for the event's entity rows; keyed by project id; ``changes``
    (the plugins' :class:`~claimx_worker.ChangeRows`) applied in order.

    The value is ``{"event_id", "event_type", "project_id", <the seven row lists>}``.
    """
    body: dict[str, Any] = {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "project_id": event.project_id,
        "projects": [project_columns(row) for row in rows.projects],
    }
    for name in _ROW_LISTS:
        row_list = getattr(rows, name)
        body[name] = converter.unstructure(row_list, tuple[Any, ...]) if row_list else []
    for change in changes:
        change.apply(body[change.rows])
    return event.project_id.encode(), _dumps(body), _headers(event)


def download_task_messages(
    event: ClaimXEvent, tasks: tuple[DownloadTask, ...]
) -> list[tuple[bytes, bytes, Headers]]:
    """One ``(key, value, headers)`` per download task; keyed by media id."""
    return [
        (
            task.media_id.encode(),
            _dumps(converter.unstructure(task, DownloadTask)),
            _headers(event),
        )
        for task in tasks
    ]
