"""``ChangeRows``: a plugin changes or adds columns of an event's entity rows before they are
published to the entity-rows topic and merged into the tables.

Checked when the action is built, against the row classes the tables' columns come from
(:mod:`claimx_worker.model.rows`), so a plugin cannot produce a row the table refuses: a declared
column takes a value of its declared type (``None`` where the column may be null), a new column
a string, integer, float, boolean or datetime, and merge-key columns (and ``event_id``) cannot be
changed. A value that breaks these raises :class:`ValueError` in the plugin's hook (counted as
its exception), so the event's rows are written unchanged.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs
from attrs import field, frozen

from claimx_worker.model.rows import ROW_LISTS

Scalar = str | int | float | bool | datetime | None
"""What a column may hold."""

_COLUMN_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_NEW_COLUMN_TYPES = (str, int, float, bool, datetime)


def _declared_types(row_class: type) -> dict[str, tuple[type, ...]]:
    hints = typing.get_type_hints(row_class)
    declared = {}
    for column in attrs.fields(row_class):
        hint = hints[column.name]
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        declared[column.name] = tuple(args)
    return declared


_DECLARED = {name: _declared_types(rows.row_class) for name, rows in ROW_LISTS.items()}


def _fits(value: object, allowed: tuple[type, ...]) -> bool:
    if value is None:
        return type(None) in allowed
    if isinstance(value, bool):
        return bool in allowed
    if isinstance(value, int) and not isinstance(value, bool):
        return int in allowed or float in allowed
    return isinstance(value, tuple(kind for kind in allowed if kind is not type(None)))


def _check_rows(_: object, __: attrs.Attribute[Any], rows: str) -> None:
    if rows not in ROW_LISTS:
        raise ValueError(f"rows must be one of {', '.join(ROW_LISTS)}, got {rows!r}")


def check_columns(rows: str, columns: Mapping[str, Any], *, what: str) -> None:
    """Refuse (``ValueError``) a column name or value the table of ``rows`` cannot take."""
    declared = _DECLARED[rows]
    for name, value in columns.items():
        if not isinstance(name, str) or not _COLUMN_NAME.fullmatch(name):
            raise ValueError(f"{what}: {name!r} is not a column name (lower_snake_case)")
        if name in declared:
            if not _fits(value, declared[name]):
                expected = " or ".join(kind.__name__ for kind in declared[name])
                raise ValueError(
                    f"{what}: {rows}.{name} takes {expected}, not {type(value).__name__}"
                )
        elif not isinstance(value, _NEW_COLUMN_TYPES):
            raise ValueError(
                f"{what}: new column {rows}.{name} must be a string, number, boolean or "
                f"datetime, not {type(value).__name__}"
            )


@frozen(kw_only=True)
class ChangeRows:
    """Set ``columns`` on the event's ``rows`` (a row list: ``tasks``, ``contacts``,
    ``projects``, ...) before they are published and written; with ``where``, only on the rows
    whose columns equal those values. Returned from ``on_enrichment_complete``; e.g.
    ``ChangeRows(rows="projects", columns={"primary_email": "***"})`` masks an email and
    ``ChangeRows(rows="tasks", columns={"sla_band": "gold"})`` adds a derived column."""

    rows: str = field(validator=_check_rows)
    columns: Mapping[str, Scalar]
    where: Mapping[str, Scalar] = field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if not self.columns:
            raise ValueError("ChangeRows needs at least one column to set")
        fixed = {*ROW_LISTS[self.rows].merge_key, "event_id"}
        changed = sorted(fixed & set(self.columns))
        if changed:
            raise ValueError(f"ChangeRows cannot change the columns {changed} of {self.rows}")
        check_columns(self.rows, self.columns, what="ChangeRows.columns")

    def apply(self, message_rows: list[dict[str, Any]]) -> None:
        """Set the columns on the matching rows of one row list of an entity-rows message."""
        where = self.where
        for row in message_rows:
            if all(row.get(name) == value for name, value in where.items()):
                row.update(self.columns)
