"""The table writer as a Kafka processor: each entity-rows message's rows typed against the
tables and added to the current batch; the batch written to every table when it is full or old;
the message done (its offset committable) only once its batch is in every table.

A message the tables refuse (not a JSON object, a value of the wrong type) fails at once and the
runtime writes it to the tables' DLQ topic with the reason; the rest of the batch goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from loguru import logger

from claimx_worker.errors import InvalidEventError
from claimx_worker.kafka import ProcessContext, Processor
from claimx_worker.tables.batch import Batch, Contribution, Position
from claimx_worker.tables.delta import Commit, DeltaTableWriter
from claimx_worker.tables.metrics import TablesMetrics
from claimx_worker.tables.schemas import TABLES
from claimx_worker.tables.settings import TablesSettings

_BACKOFF_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)

OnWritten = Callable[[Batch, list[Commit]], None]
"""Called (in a worker thread) once a batch is in every table, before its messages are done."""


def decode(value: bytes) -> dict[str, Any]:
    """An entity-rows message as a JSON object; :class:`InvalidEventError` otherwise."""
    try:
        message = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidEventError(f"entity-rows message is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise InvalidEventError("entity-rows message is not a JSON object")
    return message


class TablesWriter:
    """Batches entity rows and writes them to the seven tables; :meth:`processor` runs it on
    the Kafka runtime. Opening the tables (creating the missing ones) blocks."""

    def __init__(
        self,
        settings: TablesSettings,
        *,
        metrics: TablesMetrics,
        on_written: OnWritten | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._on_written = on_written
        self.tables = {
            name: DeltaTableWriter(
                table,
                settings.table_uri(name),
                settings.storage_options,
                commit_retries=settings.commit_retries,
            )
            for name, table in TABLES.items()
        }
        self._pool = ThreadPoolExecutor(len(self.tables), thread_name_prefix="claimx-tables")
        """Writes a batch's tables at the same time (delta-rs releases the GIL)."""
        self._batch: Batch | None = None
        self._ready: deque[Batch] = deque()
        """Batches waiting to be written, in consumption order (the Delta offsets need it)."""
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    def processor(self) -> Processor[dict[str, Any]]:
        """The processor of the ``claimx.enriched`` topic."""
        return Processor(
            decode=decode,
            process=self.process,
            on_stop=self.stop,
            start_offsets=self.start_offsets,
        )

    async def start_offsets(self, partitions: Sequence[Position]) -> dict[Position, int]:
        """Where to resume each assigned partition (see :meth:`resume_offsets`)."""
        return await asyncio.to_thread(self.resume_offsets, partitions)

    def resume_offsets(self, partitions: Sequence[Position]) -> dict[Position, int]:
        """The next offset of each partition that every table holds: the lowest of the tables'
        recorded offsets, plus one (blocking). A table commits only batches with rows for it, so
        a table without recent rows records an older offset; the lowest is the one no table is
        missing rows before. A partition some table has no record of is left out (the runtime
        reads it from the committed offset); the rows of offsets a table already holds are left
        out at write time."""
        recorded = list(
            self._pool.map(lambda writer: writer.recorded_offsets(partitions), self.tables.values())
        )
        return {
            part: min(offsets[part] for offsets in recorded) + 1
            for part in partitions
            if all(part in offsets for offsets in recorded)
        }

    async def process(self, message: dict[str, Any], ctx: ProcessContext) -> None:
        """Type the message's rows and add them to the batch (never suspends)."""
        rows = {
            name: writer.columns.typed(message.get(writer.table.rows) or [])
            for name, writer in self.tables.items()
        }
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_loop())
        batch = self._batch
        if batch is None:
            batch = self._batch = Batch(self._settings.batch_max_rows)
        position = (ctx.topic, ctx.partition)
        batch.add(position, ctx.offset, {name: typed for name, typed in rows.items() if typed})
        consumed = self._metrics.consumed
        consumed[position] = max(ctx.offset, consumed.get(position, -1))
        ctx.defer(batch.written)
        if batch.full:
            self._batch = None
            self._ready.append(batch)
            self._wake.set()

    async def stop(self) -> None:
        """Stop flushing (the runtime has drained and committed what was written)."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def _flush_loop(self) -> None:
        """Write full batches in order; the open batch once it is due and none is waiting."""
        ready = self._ready
        while True:
            if ready:
                await self._write_until_done(ready.popleft())
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._time_left())
            if not ready and self._batch is not None and self._time_left() <= 0:
                ready.append(self._batch)
                self._batch = None

    def _time_left(self) -> float:
        """Seconds until the open batch is due (a tenth of the maximum age when none is)."""
        max_seconds = self._settings.batch_max_seconds
        if self._batch is None:
            return max_seconds / 10
        return max(0.0, max_seconds - self._batch.age())

    async def _write_until_done(self, batch: Batch) -> None:
        for attempt in itertools.count():
            try:
                await asyncio.to_thread(self.write, batch)
            except Exception as exc:
                pause = _BACKOFF_SECONDS[min(attempt, len(_BACKOFF_SECONDS) - 1)]
                logger.bind(error=str(exc), retry_in_seconds=pause).error(
                    "Writing a batch to the tables failed; trying again"
                )
                await asyncio.sleep(pause)
                continue
            for position, offset in batch.last_offsets.items():
                self._metrics.written[position] = offset
            batch.written.set_result(None)
            return

    def write(self, batch: Batch) -> list[Commit]:
        """Write ``batch`` to every table that has rows in it, the tables at the same time
        (blocking). A table that fails fails the batch; the tables already committed skip
        their rows when it is written again."""
        results = self._pool.map(
            lambda item: self._write_table(item[0], item[1], batch), batch.rows.items()
        )
        commits = [commit for commit in results if commit is not None]
        self._metrics.batch_rows.observe(batch.row_count)
        if self._on_written is not None:
            self._on_written(batch, commits)
        return commits

    def _write_table(
        self, name: str, contributions: list[Contribution], batch: Batch
    ) -> Commit | None:
        writer = self.tables[name]
        commit = writer.write(contributions, batch.last_offsets)
        if commit is None:
            return None
        self._metrics.rows_written.labels(name).inc(commit.rows)
        self._metrics.commit_seconds.labels(name).observe(commit.seconds)
        logger.bind(
            table=name, version=commit.version, rows=commit.rows, seconds=round(commit.seconds, 3)
        ).debug("Committed a batch to a table")
        self._compact_when_due(writer)
        return commit

    def _compact_when_due(self, writer: DeltaTableWriter) -> None:
        every = self._settings.optimize_every_commits
        if every and writer.commits % every == 0:
            writer.compact()
