"""EntityRows: built from columns as written (enrichment) or from typed rows (tests, plugins);
both forms agree, and typed rows made from columns hold what is written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from claimx_worker.model import (
    DownloadTask,
    EntityRows,
    ProjectRow,
    TaskRow,
    converter,
)
from claimx_worker.model.rows import ROW_CLASSES

WRITTEN = "2024-07-01T12:00:00.250Z"
WHEN = datetime(2024, 7, 1, 12, 0, 0, 250000, tzinfo=UTC)
TASK_COLUMNS = {
    "assignment_id": 5,
    "task_id": 456,
    "project_id": "321",
    "task_name": "Photos",
    "form_id": None,
    "assignee_id": None,
    "assignor_id": None,
    "assignor_email": None,
    "date_assigned": WRITTEN,
    "date_completed": None,
    "cancelled_date": None,
    "status": "COMPLETED",
    "pdf_project_media_id": None,
    "form_response_id": None,
    "stp_enabled": None,
    "mfn": None,
    "task_url": None,
    "event_id": "e1",
    "created_at": WRITTEN,
    "updated_at": WRITTEN,
    "last_enriched_at": WRITTEN,
}


def test_typed_rows_made_from_columns_hold_what_is_written() -> None:
    rows = EntityRows.from_columns(tasks=[TASK_COLUMNS])
    assert rows.first_task == TaskRow(
        assignment_id=5,
        task_id=456,
        project_id="321",
        task_name="Photos",
        date_assigned=WHEN,
        status="COMPLETED",
        event_id="e1",
        created_at=WHEN,
        updated_at=WHEN,
        last_enriched_at=WHEN,
    )
    assert rows.tasks is rows.tasks  # made once
    assert rows.projects == ()
    assert rows.project is None
    assert rows.columns("tasks") == [TASK_COLUMNS]


def test_rows_from_columns_equal_rows_from_their_typed_rows() -> None:
    built = EntityRows.from_columns(tasks=[TASK_COLUMNS])
    typed = EntityRows(tasks=built.tasks)
    assert built == typed
    assert typed.columns("tasks") == [TASK_COLUMNS]
    assert built != EntityRows()
    assert built != EntityRows.from_columns(tasks=[{**TASK_COLUMNS, "status": "ASSIGNED"}])


def test_typed_rows_are_written_to_the_millisecond_in_utc() -> None:
    later = datetime(2024, 7, 1, 12, 0, 0, 250999, tzinfo=UTC)
    rows = EntityRows(projects=(ProjectRow(project_id="1", created_date=later),))
    assert rows.columns("projects")[0]["created_date"] == WRITTEN


def test_is_empty() -> None:
    assert EntityRows().is_empty
    assert EntityRows.from_columns().is_empty
    assert EntityRows.from_columns(tasks=[]).is_empty
    assert not EntityRows.from_columns(tasks=[TASK_COLUMNS]).is_empty
    task = DownloadTask(
        media_id="m", project_id="1", download_url="u", blob_path="p", file_type=None,
        file_name=None, event_id="e",
    )  # fmt: skip
    assert not EntityRows(download_tasks=(task,)).is_empty


def test_replace_swaps_the_lists_given_and_keeps_the_others() -> None:
    rows = EntityRows.from_columns(tasks=[TASK_COLUMNS], projects=[{"project_id": "1"}])
    replaced = rows.replace(projects=(ProjectRow(project_id="2"),))
    assert [p.project_id for p in replaced.projects] == ["2"]
    assert replaced.tasks == rows.tasks
    assert [p.project_id for p in rows.projects] == ["1"]


def test_an_unknown_row_list_is_refused() -> None:
    with pytest.raises(TypeError, match="taks"):
        EntityRows.from_columns(taks=[TASK_COLUMNS])


def test_repr_names_the_lists_that_have_rows() -> None:
    text = repr(EntityRows.from_columns(tasks=[TASK_COLUMNS]))
    assert text.startswith("EntityRows(tasks=(TaskRow(assignment_id=5")
    assert "projects" not in text


def test_the_converter_round_trips_rows() -> None:
    rows = EntityRows.from_columns(tasks=[TASK_COLUMNS], projects=[{"project_id": "1"}])
    data = converter.unstructure(rows)
    assert list(data) == list(ROW_CLASSES)  # the seven row lists, then the download tasks
    assert data["tasks"][0]["date_assigned"] == WRITTEN
    assert converter.structure(data, EntityRows) == rows


def test_a_row_list_that_does_not_exist_is_an_error_not_an_empty_list() -> None:
    with pytest.raises(KeyError, match="'taks' is not a row list; one of: projects, contacts"):
        EntityRows().columns("taks")
    assert EntityRows().columns("tasks") == []
