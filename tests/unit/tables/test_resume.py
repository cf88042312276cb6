"""Where the table writer resumes a partition: the lowest next offset the seven tables (real
Delta tables on local disk) recorded for it, none when a table has no record of it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from claimx_worker.tables.batch import Contribution, Position
from claimx_worker.tables.metrics import TablesMetrics
from claimx_worker.tables.schemas import TABLES
from claimx_worker.tables.settings import TablesSettings
from claimx_worker.tables.writer import TablesWriter

P0, P1 = ("enriched", 0), ("enriched", 1)


def _row(name: str, offset: int) -> dict[str, Any]:
    """A new row of table ``name`` (its key made of ``offset``), so each write commits."""
    return {
        "claimx_projects": {"project_id": str(offset)},
        "claimx_contacts": {"project_id": "1", "contact_email": f"{offset}@x", "contact_type": "A"},
        "claimx_attachment_metadata": {"media_id": str(offset)},
        "claimx_tasks": {"assignment_id": offset, "task_id": 1, "project_id": "1"},
        "claimx_task_templates": {"task_id": offset},
        "claimx_external_links": {"link_id": offset},
        "claimx_video_collab": {"video_collaboration_id": str(offset)},
    }[name]


def _write(writer: TablesWriter, name: str, offsets: dict[Position, int]) -> None:
    rows = [Contribution(part, offset, _row(name, offset)) for part, offset in offsets.items()]
    assert writer.tables[name].write(rows, offsets) is not None


def test_the_lowest_offset_of_the_seven_tables_and_only_partitions_they_all_know(
    tmp_path: Path,
) -> None:
    settings = TablesSettings(location=str(tmp_path / "delta"))
    writer = TablesWriter(settings, metrics=TablesMetrics(CollectorRegistry()))
    try:
        assert writer.resume_offsets([P0, P1]) == {}
        for name in TABLES:
            _write(writer, name, {P0: 10})
        _write(writer, "claimx_tasks", {P0: 25, P1: 4})  # newer in one table only
        assert writer.resume_offsets([P0, P1]) == {P0: 11}
        for name in TABLES:
            _write(writer, name, {P0: 30 if name != "claimx_video_collab" else 20, P1: 7})
        assert writer.resume_offsets([P0, P1]) == {P0: 21, P1: 8}
        assert asyncio.run(writer.start_offsets([P1])) == {P1: 8}
    finally:
        asyncio.run(writer.stop())
