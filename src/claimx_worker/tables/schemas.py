"""The seven entity tables: name, the row list they take from an entity-rows message, merge key,
partition columns and typed columns (Arrow types derived from the row classes of
:mod:`claimx_worker.model.rows`).

Column types: ``str`` -> string, ``int`` -> int64, ``float`` -> float64, ``bool`` -> boolean,
``datetime`` -> timestamp (microseconds, UTC). Ids keep the type the API gives (``project_id``
is a string, ``assignment_id`` an integer).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

import attrs
import pyarrow as pa
from attrs import frozen

from claimx_worker.model.rows import ROW_LISTS

TIMESTAMP = pa.timestamp("us", tz="UTC")
_ARROW_TYPES: Mapping[type, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    datetime: TIMESTAMP,
}


@frozen(kw_only=True)
class TableSchema:
    """One entity table."""

    name: str
    """The table's name, also the last part of its default path (``./delta/<name>``)."""
    rows: str
    """The list of the entity-rows message that holds its rows (``tasks``, ``media``, ...)."""
    merge_key: tuple[str, ...]
    """Columns that identify a row: a row with the same key is updated, others inserted."""
    schema: pa.Schema
    """The columns the row class declares, typed (more may be added by schema evolution)."""
    required: tuple[str, ...]
    """Merge-key columns a row must set (the others may be null, e.g. ``contact_email``)."""
    update_only_if: str | None = None
    """A SQL condition (``source``/``target`` aliases) a matched row must meet to be updated."""
    condition_columns: tuple[str, ...] = ()
    """The columns :attr:`update_only_if` reads (always in the merge's source, null when a row
    leaves them out)."""

    @property
    def key_columns(self) -> frozenset[str]:
        """:attr:`merge_key` as a set."""
        return frozenset(self.merge_key)


def arrow_schema(row_class: type) -> pa.Schema:
    """Arrow columns of an attrs row class, nullable, in declaration order."""
    hints = typing.get_type_hints(row_class)
    return pa.schema(
        [pa.field(field.name, _arrow_type(hints[field.name])) for field in attrs.fields(row_class)]
    )


def _arrow_type(hint: object) -> pa.DataType:
    if isinstance(hint, types.UnionType):
        (inner,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
        return _arrow_type(inner)
    return _ARROW_TYPES[typing.cast(type, hint)]


def _optional(hint: object) -> bool:
    return isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)


def _table(rows: str, update_only_if: tuple[str, tuple[str, ...]] | None = None) -> TableSchema:
    row_list = ROW_LISTS[rows]
    hints = typing.get_type_hints(row_list.row_class)
    return TableSchema(
        name=row_list.table,
        rows=rows,
        merge_key=row_list.merge_key,
        schema=arrow_schema(row_list.row_class),
        required=tuple(column for column in row_list.merge_key if not _optional(hints[column])),
        update_only_if=update_only_if[0] if update_only_if else None,
        condition_columns=update_only_if[1] if update_only_if else (),
    )


TABLES: Mapping[str, TableSchema] = MappingProxyType(
    {
        table.name: table
        for table in (
            _table(rows)
            if rows != "task_templates"
            # The original writer: a template changes only when its modified_date does.
            else _table(
                rows,
                (
                    "(target.modified_date IS NULL)"
                    " OR (source.modified_date IS DISTINCT FROM target.modified_date)",
                    ("modified_date",),
                ),
            )
            for rows in ROW_LISTS
        )
    }
)
"""Every entity table by name."""
