"""The fields a condition may test, each with its declared type and how to read it.

- the event's own fields (``event_type``, ``event_id``, ``project_id``, ``created_at``, ...);
- the first task row's fields by their own names (``task_id``, ``assignment_id``,
  ``assignee_id``, ``date_assigned``, ...) and its ``status`` as ``task_status``;
- dotted paths into the first row of a kind: ``project.<column>``, ``task.<column>``,
  ``task_template.<column>``.

Types come from the model's annotations: ``str`` is a string, ``int`` an integer, ``float`` a
number, ``bool`` a boolean and ``datetime`` a timestamp.
"""

from __future__ import annotations

import difflib
import enum
import operator
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, get_type_hints

import attrs
from attrs import frozen

from claimx_worker.model.event import ClaimXEvent
from claimx_worker.model.rows import (
    AUDIT_COLUMNS,
    EntityRows,
    ProjectRow,
    TaskRow,
    TaskTemplateRow,
)


class FieldType(enum.StrEnum):
    """A field's declared type: it decides which operators fit and how values are read."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    TIMESTAMP = "timestamp"


Getter = Callable[[ClaimXEvent, EntityRows], Any]
"""Reads a field's value from an event and its rows (``None`` when missing)."""


@frozen
class FieldSpec:
    """One testable field: its name, declared type and getter."""

    name: str
    type: FieldType
    get: Getter = attrs.field(eq=False, repr=False)


_TYPES: Mapping[Any, FieldType] = {
    str: FieldType.STRING,
    int: FieldType.INTEGER,
    float: FieldType.NUMBER,
    bool: FieldType.BOOLEAN,
    datetime: FieldType.TIMESTAMP,
}
_EVENT_FIELDS = (
    "event_type",
    "event_id",
    "project_id",
    "created_at",
    "task_assignment_id",
    "media_id",
    "video_collaboration_id",
    "master_file_name",
    "retry_count",
)
_ROWS: Mapping[str, tuple[type, str]] = {
    "project": (ProjectRow, "projects"),
    "task": (TaskRow, "tasks"),
    "task_template": (TaskTemplateRow, "task_templates"),
}
"""Dotted prefix -> (row class, the ``EntityRows`` tuple whose first row it reads)."""
_TASK_ALIASES = {"task_status": "status"}


def _field_type(annotation: Any) -> FieldType:
    for candidate, field_type in _TYPES.items():
        if annotation is candidate or candidate in getattr(annotation, "__args__", ()):
            return field_type
    raise TypeError(f"no field type for {annotation!r}")  # pragma: no cover - model guard


def _event_getter(name: str) -> Getter:
    get = operator.attrgetter(name)
    return lambda event, _rows: get(event)


def _row_getter(kind: str, column: str, field_type: FieldType) -> Getter:
    """Reads the column from the rows' columns as written (no typed row is made); a timestamp
    is parsed from its text."""
    timestamp = field_type is FieldType.TIMESTAMP

    def get(_event: ClaimXEvent, rows: EntityRows) -> Any:
        found = rows.columns(kind)
        value = found[0].get(column) if found else None
        return datetime.fromisoformat(value) if timestamp and value is not None else value

    return get


def _build() -> dict[str, FieldSpec]:
    specs: dict[str, FieldSpec] = {}
    event_hints = get_type_hints(ClaimXEvent)
    for name in _EVENT_FIELDS:
        specs[name] = FieldSpec(name, _field_type(event_hints[name]), _event_getter(name))
    for prefix, (row_class, kind) in _ROWS.items():
        hints = get_type_hints(row_class)
        for column in attrs.fields_dict(row_class):
            name = f"{prefix}.{column}"
            field_type = _field_type(hints[column])
            specs[name] = FieldSpec(name, field_type, _row_getter(kind, column, field_type))
    task_hints = get_type_hints(TaskRow)
    tasks = _ROWS["task"][1]
    for column in attrs.fields_dict(TaskRow):
        if column in specs or column in AUDIT_COLUMNS or column in _TASK_ALIASES.values():
            continue
        field_type = _field_type(task_hints[column])
        specs[column] = FieldSpec(column, field_type, _row_getter(tasks, column, field_type))
    for alias, column in _TASK_ALIASES.items():
        field_type = _field_type(task_hints[column])
        specs[alias] = FieldSpec(alias, field_type, _row_getter(tasks, column, field_type))
    return specs


FIELDS: Mapping[str, FieldSpec] = MappingProxyType(_build())
"""Every field a condition may test, by name."""


def unknown_field_message(name: str) -> str:
    """Why ``name`` is not a field, with the nearest field names."""
    extended = [field for field in FIELDS if field.startswith(name)]
    close = list(dict.fromkeys([*extended, *difflib.get_close_matches(name, list(FIELDS), n=3)]))[
        :3
    ]
    if close:
        return f"unknown field {name!r}, did you mean {' or '.join(repr(c) for c in close)}?"
    return (
        f"unknown field {name!r}: use an event field (event_type, event_id, project_id, ...), "
        "a task field (task_id, task_status, task_name, assignment_id, ...) or a dotted path "
        "(project.<column>, task.<column>, task_template.<column>)"
    )
