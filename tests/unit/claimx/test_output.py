"""Entity-rows and download-task messages: keys, event id header, JSON with ISO dates, and
merge-safe project rows (unset event-driven columns and a minimal row's unset columns omitted)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from claimx_worker.claimx import download_task_messages, entity_rows_message
from claimx_worker.claimx.builders import ProjectExport, Stamp, contact_rows, project_row
from claimx_worker.model import (
    ChangeRows,
    ClaimXEvent,
    DownloadTask,
    EntityRows,
    EventType,
    MediaRow,
    ProjectRow,
    TaskRow,
)
from claimx_worker.testing.factories import make_event, make_rows
from claimx_worker.testing.simulated_data import SimulatedData

NOW = datetime(2024, 7, 1, 12, 0, 0, 250000, tzinfo=UTC)
EVENT = ClaimXEvent(event_id="evt-9", event_type="PROJECT_FILE_ADDED", project_id="321")
ROW_LISTS = [
    "projects",
    "contacts",
    "media",
    "tasks",
    "task_templates",
    "external_links",
    "video_collab",
]


def test_entity_rows_message() -> None:
    rows = EntityRows(
        projects=(ProjectRow(project_id="321", status="OPEN", created_date=NOW, event_id="evt-9"),),
        tasks=(TaskRow(assignment_id=5, task_id=456, project_id="321", date_assigned=NOW),),
        media=(MediaRow(media_id="m1", project_id="321", full_download_link="https://x/m1"),),
    )
    key, value, headers = entity_rows_message(EVENT, rows)
    assert key == b"321"
    assert ("event_id", b"evt-9") in headers
    body = json.loads(value)
    assert [k for k in body if k in ROW_LISTS] == ROW_LISTS
    assert body["event_id"] == "evt-9"
    assert body["event_type"] == "PROJECT_FILE_ADDED"
    project = body["projects"][0]
    assert project["created_date"] == "2024-07-01T12:00:00.250Z"
    assert project["status"] == "OPEN"
    assert project["project_number"] is None  # API columns are written even when null
    assert "policyholder_joined_at" not in project  # event-driven columns only when set
    assert "xa_autolink_fail" not in project
    assert body["tasks"][0]["task_id"] == 456
    assert body["tasks"][0]["date_assigned"] == "2024-07-01T12:00:00.250Z"
    assert body["media"][0]["full_download_link"] == "https://x/m1"
    assert body["contacts"] == []


def test_set_event_driven_columns_are_written() -> None:
    rows = EntityRows(projects=(ProjectRow(project_id="321", policyholder_joined_at=NOW),))
    project = json.loads(entity_rows_message(EVENT, rows)[1])["projects"][0]
    assert project["policyholder_joined_at"] == "2024-07-01T12:00:00.250Z"


def test_minimal_project_row_carries_only_what_is_set() -> None:
    rows = EntityRows(
        projects=(
            ProjectRow(
                project_id="321",
                xa_autolink_fail=True,
                xa_autolink_fail_at=NOW,
                event_id="evt-9",
            ),
        )
    )
    project = json.loads(entity_rows_message(EVENT, rows)[1])["projects"][0]
    assert project == {
        "project_id": "321",
        "xa_autolink_fail": True,
        "xa_autolink_fail_at": "2024-07-01T12:00:00.250Z",
        "event_id": "evt-9",
    }


def test_download_task_messages_are_keyed_by_media_id() -> None:
    tasks = tuple(
        DownloadTask(
            media_id=f"m{n}",
            project_id="321",
            download_url=f"https://x/m{n}",
            blob_path=f"321/media/m{n}.jpg",
            file_type="jpg",
            file_name=f"m{n}.jpg",
            event_id="evt-9",
            expires_at=NOW,
        )
        for n in (1, 2)
    )
    messages = download_task_messages(EVENT, tasks)
    assert [key for key, _, _ in messages] == [b"m1", b"m2"]
    assert all(("event_id", b"evt-9") in headers for _, _, headers in messages)
    assert json.loads(messages[0][1]) == {
        "media_id": "m1",
        "project_id": "321",
        "download_url": "https://x/m1",
        "blob_path": "321/media/m1.jpg",
        "file_type": "jpg",
        "file_name": "m1.jpg",
        "event_id": "evt-9",
        "expires_at": "2024-07-01T12:00:00.250Z",
    }
    assert download_task_messages(EVENT, ()) == []


def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def test_messages_are_compact_utf8_json_of_every_event_type() -> None:
    for event_type in EventType:
        event = make_event(event_type, project_id="Zürich-1")
        rows = make_rows(event)
        if rows.is_empty:
            continue
        value = entity_rows_message(event, rows)[1]
        assert value == _compact(json.loads(value)), event_type
        for _, task, _ in download_task_messages(event, rows.download_tasks):
            assert task == _compact(json.loads(task))


def test_integers_beyond_64_bits_are_written_exactly() -> None:
    rows = EntityRows(tasks=(TaskRow(assignment_id=2**70, task_id=456, project_id="321"),))
    value = entity_rows_message(EVENT, rows)[1]
    assert json.loads(value)["tasks"][0]["assignment_id"] == 2**70


def test_project_rows_of_one_export_carry_their_own_event_columns() -> None:
    export = ProjectExport.parse(SimulatedData(1).project(7))
    later = datetime(2024, 7, 2, tzinfo=UTC)
    first = project_row(export, "7", Stamp(event_id="e1", now=NOW))
    second = project_row(
        export,
        "7",
        Stamp(event_id="e2", now=later),
        master_file_name="MFN-X",
        xa_autolink_fail=True,
    )
    written = [
        json.loads(entity_rows_message(EVENT, EntityRows.from_columns(projects=[row]))[1])
        for row in (first, second)
    ]
    assert [message["projects"][0]["event_id"] for message in written] == ["e1", "e2"]
    assert written[0]["projects"][0]["last_enriched_at"] == "2024-07-01T12:00:00.250Z"
    assert written[1]["projects"][0]["last_enriched_at"] == "2024-07-02T00:00:00.000Z"
    assert written[1]["projects"][0]["master_file_name"] == "MFN-X"
    assert written[1]["projects"][0]["xa_autolink_fail"] is True
    assert "xa_autolink_fail" not in written[0]["projects"][0]
    assert "xa_autolink_fail_at" not in written[1]["projects"][0]
    assert written[0]["projects"][0]["project_number"] == export.columns["project_number"]


def test_rows_built_from_columns_write_what_their_typed_rows_would() -> None:
    export = ProjectExport.parse(SimulatedData(1).project(7))
    stamp = Stamp(event_id="e1", now=NOW)
    cases = [
        {"projects": [project_row(export, "7", stamp)]},
        {"projects": [project_row(export, "7", stamp, policyholder_joined_at=stamp.now_text)]},
        {"projects": [project_row(ProjectExport.empty(), "7", stamp, xa_autolink_fail=True)]},
        {
            "projects": [project_row(export, "7", stamp)],
            "contacts": contact_rows(export, "7", stamp),
        },
    ]
    for lists in cases:
        built = EntityRows.from_columns(**lists)
        typed = EntityRows(**{name: getattr(built, name) for name in lists})
        assert built == typed
        assert entity_rows_message(EVENT, built) == entity_rows_message(EVENT, typed)


def test_a_project_without_export_data_writes_only_the_columns_its_event_set() -> None:
    row = project_row(
        ProjectExport.empty(), "7", Stamp(event_id="e1", now=NOW), master_file_name="M"
    )
    written = json.loads(entity_rows_message(EVENT, EntityRows.from_columns(projects=[row]))[1])
    assert written["projects"] == [
        {
            "project_id": "7",
            "master_file_name": "M",
            "event_id": "e1",
            "created_at": "2024-07-01T12:00:00.250Z",
            "updated_at": "2024-07-01T12:00:00.250Z",
            "last_enriched_at": "2024-07-01T12:00:00.250Z",
        }
    ]


def test_row_changes_leave_the_rows_columns_as_built() -> None:
    export = ProjectExport.parse(SimulatedData(1).project(7))
    rows = EntityRows.from_columns(
        projects=[project_row(export, "7", Stamp(event_id="e", now=NOW))]
    )
    change = ChangeRows(rows="projects", columns={"status": "CHANGED"})
    changed = json.loads(entity_rows_message(EVENT, rows, [change])[1])
    assert changed["projects"][0]["status"] == "CHANGED"
    assert rows.columns("projects")[0]["status"] == export.columns["status"] != "CHANGED"
    assert json.loads(entity_rows_message(EVENT, rows)[1])["projects"][0]["status"] != "CHANGED"
