"""Typing an entity-rows message's rows against a table's columns: values converted to the
column types, new columns (schema evolution) typed from their first value, and a value of the
wrong type refused with the reason (the message goes to the tables' DLQ)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from claimx_worker.errors import PermanentError
from claimx_worker.tables.schemas import TIMESTAMP, TableSchema

_INT64 = range(-(2**63), 2**63)
_INFERRED: Mapping[type, pa.DataType] = {
    str: pa.string(),
    bool: pa.bool_(),
    int: pa.int64(),
    float: pa.float64(),
}


class RowTypeError(PermanentError):
    """A row's value does not fit its table column (or a row is not an object)."""


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError


def _integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value in _INT64:
        return value
    raise TypeError


def _float(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise TypeError


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            raise TypeError from None
    else:
        raise TypeError
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


_CONVERTERS: Mapping[pa.DataType, Callable[[Any], Any]] = {
    pa.string(): _string,
    pa.large_string(): _string,
    pa.int64(): _integer,
    pa.int32(): _integer,
    pa.float64(): _float,
    pa.bool_(): _boolean,
    TIMESTAMP: _timestamp,
    pa.timestamp("us"): _timestamp,
}


class TableColumns:
    """The columns of one table as the writer knows them: the declared ones, those the table
    already has, and new ones seen in rows (typed from their first non-null value)."""

    def __init__(self, table: TableSchema, existing: pa.Schema | None = None) -> None:
        self.table = table
        self.types: dict[str, pa.DataType] = {field.name: field.type for field in table.schema}
        if existing is not None:
            self.types.update({field.name: field.type for field in existing})

    def typed(self, rows: Any) -> list[dict[str, Any]]:
        """``rows`` (a JSON list of objects) with every value converted to its column's type;
        unset columns stay absent. Raises :class:`RowTypeError` naming the table, the row, the
        column and the types."""
        if not isinstance(rows, list):
            raise RowTypeError(f"{self.table.rows}: expected a list of rows")
        return [self._typed_row(index, row) for index, row in enumerate(rows)]

    def _typed_row(self, index: int, row: Any) -> dict[str, Any]:
        if not isinstance(row, dict):
            raise RowTypeError(f"{self.table.rows}[{index}]: expected an object")
        typed: dict[str, Any] = {}
        for column, value in row.items():
            if value is None:
                if column in self.types:
                    typed[column] = None
                continue
            kind = self.types.get(column) or self._new_column(index, column, value)
            try:
                typed[column] = _CONVERTERS[kind](value)
            except (TypeError, KeyError):
                raise RowTypeError(
                    f"{self.table.name}: row {index}, column {column!r}: "
                    f"{type(value).__name__} value does not fit the column type {kind}"
                ) from None
        for column in self.table.required:
            if typed.get(column) is None:
                raise RowTypeError(f"{self.table.name}: row {index} has no {column!r}")
        return typed

    def _new_column(self, index: int, column: str, value: Any) -> pa.DataType:
        kind = _INFERRED.get(type(value))
        if kind is None:
            raise RowTypeError(
                f"{self.table.name}: row {index}, new column {column!r}: a "
                f"{type(value).__name__} value cannot become a column (strings, numbers and "
                "booleans can)"
            )
        self.types[column] = kind
        return kind

    def schema(self, columns: Iterable[str]) -> pa.Schema:
        """The Arrow schema of ``columns``, in the table's column order."""
        wanted = set(columns)
        return pa.schema(
            [pa.field(name, kind) for name, kind in self.types.items() if name in wanted]
        )
