"""A batch of entity rows on its way to the tables: rows by table in consumption order, with
the Kafka position each came from, and the events that wait for the batch to be written."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import frozen

Position = tuple[str, int]
"""A topic-partition."""


@frozen
class Contribution:
    """One row of one message: where it came from and its typed columns."""

    partition: Position
    offset: int
    row: dict[str, Any]


class Batch:
    """Rows gathered from messages until the batch is full (``max_rows``) or old; ``written``
    resolves once every table has the batch's rows."""

    def __init__(self, max_rows: int) -> None:
        self._max_rows = max_rows
        self.rows: defaultdict[str, list[Contribution]] = defaultdict(list)
        """Table name -> its rows, in consumption order."""
        self.last_offsets: dict[Position, int] = {}
        """The highest offset of each partition in the batch."""
        self.row_count = 0
        self.messages = 0
        self.started = time.monotonic()
        self.written: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def add(
        self, partition: Position, offset: int, rows: Mapping[str, list[dict[str, Any]]]
    ) -> None:
        """Add one message's typed rows (table name -> rows)."""
        for table, table_rows in rows.items():
            self.rows[table].extend(Contribution(partition, offset, row) for row in table_rows)
            self.row_count += len(table_rows)
        self.messages += 1
        self.last_offsets[partition] = max(offset, self.last_offsets.get(partition, -1))

    @property
    def full(self) -> bool:
        """Whether the batch holds ``max_rows`` rows or more."""
        return self.row_count >= self._max_rows

    def age(self) -> float:
        """Seconds since the batch started."""
        return time.monotonic() - self.started


def merged_rows(
    contributions: Iterable[Contribution],
    key: tuple[str, ...],
    written: Mapping[Position, int],
) -> list[dict[str, Any]]:
    """One row per merge key, later rows over earlier ones column by column (an absent column
    keeps the earlier value, ``created_at`` the first one), leaving out the rows of offsets the
    table already holds (``written``: partition -> last offset in the table)."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for item in contributions:
        if item.offset <= written.get(item.partition, -1):
            continue
        identity = tuple(item.row.get(column) for column in key)
        earlier = merged.get(identity)
        if earlier is None:
            merged[identity] = dict(item.row)
            continue
        created_at = earlier.get("created_at")
        earlier.update(item.row)
        if created_at is not None:
            earlier["created_at"] = created_at
    return list(merged.values())
