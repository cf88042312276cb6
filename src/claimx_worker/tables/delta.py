"""One entity table in Delta Lake: created when missing, rows merged (update-or-insert on the
merge key, ``created_at`` kept from the first write), the Kafka offsets of each commit recorded as
transaction identifiers (``txn``, one app id per topic-partition) in the same commit, and commits
that lose a race with another writer tried again.

Exactly once: before each commit the writer reads the table's latest transaction versions and
leaves out the rows of offsets the table already holds, so a batch redelivered after a crash
between the Delta commit and the Kafka commit (or after a rebalance) adds nothing. On assignment
the writer reads the offsets back (:meth:`DeltaTableWriter.recorded_offsets`) to resume there.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from attrs import frozen
from deltalake import CommitProperties, DeltaTable, Field, Transaction
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.schema import PrimitiveType
from loguru import logger

from claimx_worker.errors import TransientError
from claimx_worker.tables.batch import Contribution, Position, merged_rows
from claimx_worker.tables.columns import TableColumns
from claimx_worker.tables.schemas import TIMESTAMP, TableSchema

SOURCE = "source"
TARGET = "target"
_PRESENT = "__present_"
_DELTA_TYPES: Mapping[pa.DataType, str] = {
    pa.string(): "string",
    pa.int64(): "long",
    pa.float64(): "double",
    pa.bool_(): "boolean",
    TIMESTAMP: "timestamp",
}
_CONFLICT_PAUSE_SECONDS = 0.05


class TableCommitError(TransientError):
    """A table could not be committed (storage unreachable, every retry lost a race)."""


def app_id(partition: Position) -> str:
    """The transaction app id of a topic-partition, as recorded in every table."""
    topic, number = partition
    return f"claimx-tables:{topic}:{number}"


@frozen
class Commit:
    """A commit made: the table version, the rows merged and how long it took."""

    table: str
    version: int
    rows: int
    seconds: float


class DeltaTableWriter:
    """Writes one table at ``uri`` (delta-rs ``storage_options`` passed through)."""

    def __init__(
        self,
        table: TableSchema,
        uri: str,
        storage_options: Mapping[str, str],
        *,
        commit_retries: int,
    ) -> None:
        self.table = table
        self.uri = uri
        self._options = dict(storage_options)
        self._retries = commit_retries
        self._delta = DeltaTable.create(
            uri,
            table.schema,
            mode="ignore",
            name=table.name,
            description=f"ClaimX entity table, merged on {', '.join(table.merge_key)}",
            storage_options=self._options or None,
        )
        self.columns = TableColumns(table, pa.schema(self._delta.schema().to_arrow()))
        self.commits = 0
        """Commits made by this writer."""

    def written_offsets(self, partitions: Sequence[Position]) -> dict[Position, int]:
        """The last offset of each partition the table holds (absent: none)."""
        return _offsets(self._delta, partitions)

    def recorded_offsets(self, partitions: Sequence[Position]) -> dict[Position, int]:
        """Like :meth:`written_offsets`, read from the table's latest version with a snapshot of
        its own (blocking; safe while this writer commits in another thread)."""
        latest = DeltaTable(self.uri, storage_options=self._options or None)
        return _offsets(latest, partitions)

    def write(
        self, contributions: Sequence[Contribution], last_offsets: Mapping[Position, int]
    ) -> Commit | None:
        """Merge the rows the table does not hold yet and record ``last_offsets``; ``None`` when
        there was nothing new. Blocking (run it in a thread). Raises :class:`TableCommitError`."""
        for attempt in range(self._retries + 1):
            started = time.perf_counter()
            try:
                self._delta.update_incremental()
                written = self.written_offsets(list(last_offsets))
                rows = merged_rows(contributions, self.table.merge_key, written)
                if not rows:
                    return None
                self._add_new_columns(rows)
                transactions = [
                    Transaction(app_id(part), offset)
                    for part, offset in last_offsets.items()
                    if offset > written.get(part, -1)
                ]
                self._merge(rows, CommitProperties(app_transactions=transactions))
            except CommitFailedError as exc:
                logger.bind(table=self.table.name, attempt=attempt + 1, error=str(exc)).debug(
                    "Delta commit lost a race with another writer; trying again"
                )
                time.sleep(_CONFLICT_PAUSE_SECONDS * (attempt + 1))
                continue
            except (OSError, DeltaError) as exc:
                raise TableCommitError(f"{self.table.name}: {exc}") from exc
            self.commits += 1
            return Commit(
                self.table.name, self._delta.version(), len(rows), time.perf_counter() - started
            )
        raise TableCommitError(
            f"{self.table.name}: {self._retries + 1} commits in a row lost a race with other "
            "writers"
        )

    def compact(self) -> None:
        """Rewrite small files into larger ones (a commit of its own; logged, never raised)."""
        try:
            result = self._delta.optimize.compact()
        except (OSError, DeltaError) as exc:
            logger.bind(table=self.table.name, error=str(exc)).warning("Compaction failed")
            return
        logger.bind(
            table=self.table.name,
            files_added=result.get("numFilesAdded"),
            files_removed=result.get("numFilesRemoved"),
        ).info("Compacted a table")

    def _add_new_columns(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Schema evolution: columns first seen in ``rows`` are added to the table."""
        existing = set(pa.schema(self._delta.schema().to_arrow()).names)
        new = sorted({column for row in rows for column in row} - existing)
        if not new:
            return
        types = self.columns.types
        self._delta.alter.add_columns(
            [Field(name, PrimitiveType(_DELTA_TYPES[types[name]]), nullable=True) for name in new]
        )
        logger.bind(table=self.table.name, columns=",".join(new)).info(
            "Added new columns to a table"
        )

    def _merge(self, rows: list[dict[str, Any]], commit: CommitProperties) -> None:
        table = self.table
        present = {column for row in rows for column in row} | set(table.condition_columns)
        partial = sorted(column for column in present if any(column not in row for row in rows))
        source = pa.Table.from_pylist(rows, schema=self.columns.schema(present))
        for column in partial:
            source = source.append_column(
                _PRESENT + column, pa.array([column in row for row in rows], pa.bool_())
            )
        updates = {
            column: (
                f"CASE WHEN {SOURCE}.{_PRESENT}{column} THEN {SOURCE}.{column} "
                f"ELSE {TARGET}.{column} END"
                if column in partial
                else f"{SOURCE}.{column}"
            )
            for column in source.schema.names
            if column in present and column not in table.key_columns and column != "created_at"
        }
        inserts = {column: f"{SOURCE}.{column}" for column in present}
        merger = self._delta.merge(
            source,
            _predicate(table, rows),
            source_alias=SOURCE,
            target_alias=TARGET,
            commit_properties=commit,
        )
        if updates:
            merger = merger.when_matched_update(updates, predicate=table.update_only_if)
        merger.when_not_matched_insert(inserts).execute()


def _offsets(delta: DeltaTable, partitions: Sequence[Position]) -> dict[Position, int]:
    """The last offset of each partition ``delta``'s snapshot holds (absent: none)."""
    versions = {part: delta.transaction_version(app_id(part)) for part in partitions}
    return {part: version for part, version in versions.items() if version is not None}


def _predicate(table: TableSchema, rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows match on the merge key (null equal to null where the key may be null); the first
    required key column is also bounded by the batch's lowest and highest value, so delta-rs
    skips the files whose statistics lie outside (a batch of new tasks reads no old file)."""
    joins = [
        f"({TARGET}.{column} = {SOURCE}.{column})"
        if column in table.required
        else f"({TARGET}.{column} IS NOT DISTINCT FROM {SOURCE}.{column})"
        for column in table.merge_key
    ]
    first = table.required[0]
    values = [row[first] for row in rows]
    low, high = _literal(min(values)), _literal(max(values))
    joins.append(f"({TARGET}.{first} >= {low} AND {TARGET}.{first} <= {high})")
    return " AND ".join(joins)


def _literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)
