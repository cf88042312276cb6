"""Reading and tending the tables: ``tables show`` (rows), row counts, ``tables optimize``
(compaction and a checkpoint) and ``tables vacuum`` (unreferenced files deleted)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from attrs import frozen
from deltalake import DeltaTable, QueryBuilder
from deltalake.exceptions import TableNotFoundError

from claimx_worker.errors import ClaimXWorkerError
from claimx_worker.tables.settings import TABLE_NAMES, TablesSettings


class TableQueryError(ClaimXWorkerError):
    """A table is missing, or a ``--where`` condition does not read as SQL."""


def open_table(settings: TablesSettings, name: str) -> DeltaTable:
    """The Delta table ``name``; :class:`TableQueryError` when it is unknown or not written."""
    if name not in TABLE_NAMES:
        raise TableQueryError(f"no table {name!r}: the tables are {', '.join(TABLE_NAMES)}")
    uri = settings.table_uri(name)
    try:
        return DeltaTable(uri, storage_options=settings.storage_options or None)
    except TableNotFoundError:
        raise TableQueryError(
            f"{name} has not been written yet (no Delta table at {uri})"
        ) from None


def show_rows(
    settings: TablesSettings, name: str, *, where: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Up to ``limit`` rows of table ``name``, filtered by the SQL condition ``where``."""
    query = f"SELECT * FROM {name}"
    if where:
        query += f" WHERE {where}"
    query += f" LIMIT {int(limit)}"
    try:
        reader = QueryBuilder().register(name, open_table(settings, name)).execute(query)
    except Exception as exc:  # delta-rs reports SQL errors as plain exceptions
        if isinstance(exc, TableQueryError):
            raise
        raise TableQueryError(f"cannot query {name}: {exc}") from None
    rows: list[dict[str, Any]] = pa.table(reader.read_all()).to_pylist()
    return rows


def row_counts(settings: TablesSettings) -> dict[str, int]:
    """Rows per table (0 for a table not written yet)."""
    counts = {}
    for name in TABLE_NAMES:
        try:
            counts[name] = open_table(settings, name).count()
        except TableQueryError:
            counts[name] = 0
    return counts


@frozen
class Maintained:
    """What one maintenance command did to one table."""

    table: str
    summary: str


def optimize(settings: TablesSettings) -> Iterator[Maintained]:
    """Compact each table's small files and write a checkpoint."""
    for name, table in _existing(settings):
        result = table.optimize.compact()
        table.create_checkpoint()
        yield Maintained(
            name,
            f"{result.get('numFilesRemoved', 0)} files compacted into "
            f"{result.get('numFilesAdded', 0)}; checkpoint at version {table.version()}",
        )


def vacuum(settings: TablesSettings, *, dry_run: bool) -> Iterator[Maintained]:
    """Delete files no version within the retention period refers to (list them if
    ``dry_run``)."""
    for name, table in _existing(settings):
        files = table.vacuum(
            retention_hours=settings.vacuum_retention_hours,
            dry_run=dry_run,
            enforce_retention_duration=False,
        )
        verb = "would delete" if dry_run else "deleted"
        yield Maintained(name, f"{verb} {len(files)} files")


def _existing(settings: TablesSettings) -> Iterator[tuple[str, DeltaTable]]:
    for name in TABLE_NAMES:
        try:
            yield name, open_table(settings, name)
        except TableQueryError:
            continue
