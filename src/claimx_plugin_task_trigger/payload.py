"""The payload a matched trigger sends: fixed keys, plus the task and project rows when included."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import attrs

from claimx_worker import ClaimXEvent, ProjectRow

Columns = Mapping[str, Any]
"""A row as the entity-rows message writes it (``rows.columns("tasks")[0]``)."""

_MILLISECONDS = tuple(f"{millisecond:03d}Z" for millisecond in range(1000))
_PROJECT_COLUMNS = dict.fromkeys(attrs.fields_dict(ProjectRow))


def task_payload(task: Columns) -> dict[str, Any]:
    """A task row as a payload writes it: its columns, datetimes as ISO-8601 text."""
    return dict(task)


def project_payload(project: Columns | None) -> dict[str, Any] | None:
    """A project row as a payload writes it: every column (``null`` where the event's row
    left one out), or ``None`` without a project row."""
    return None if project is None else {**_PROJECT_COLUMNS, **project}


class UtcClock:
    """ISO-8601 UTC timestamps with milliseconds and ``Z`` (``2024-05-01T12:00:00.123Z``).

    Caches the formatted second, so a timestamp costs a clock read and one string join
    (the millisecond suffixes are formatted once, at import).
    """

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        """The current time."""
        second, millisecond = divmod(time.time_ns() // 1_000_000, 1000)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
            self._second = second
        return self._prefix + _MILLISECONDS[millisecond]


class PayloadBuilder:
    """Builds payloads for one plugin instance (its include flags fixed at load), from the
    rows' columns as written: no typed row is made."""

    __slots__ = ("_clock", "_include_project", "_include_task")

    def __init__(self, *, include_task_data: bool, include_project_data: bool) -> None:
        self._include_task = include_task_data
        self._include_project = include_project_data
        self._clock = UtcClock()

    def build(
        self, trigger_name: str, event: ClaimXEvent, task: Columns, project: Columns | None
    ) -> dict[str, Any]:
        """The payload for the ``task`` row matching ``trigger_name``, stamped with the current
        time. ``project`` is ``None`` in the payload when included but enrichment produced no row.
        """
        payload: dict[str, Any] = {
            "trigger_name": trigger_name,
            "event_id": event.event_id,
            "event_type": event.event_type,
            "project_id": event.project_id,
            "task_id": task["task_id"],
            "assignment_id": task["assignment_id"],
            "task_name": task["task_name"],
            "task_status": task["status"],
            "timestamp": self._clock.now(),
        }
        if self._include_task:
            payload["task"] = task_payload(task)
        if self._include_project:
            payload["project"] = project_payload(project)
        return payload
