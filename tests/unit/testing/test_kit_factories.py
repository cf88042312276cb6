"""The event and row factories of the testing kit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from claimx_worker.errors import PermanentError
from claimx_worker.model import EventType, converter, event_to_json, parse_event
from claimx_worker.testing import UNKNOWN_EVENT_TYPE, make_enriched_event, make_event, make_rows
from claimx_worker.testing.factories import ENRICHED_AT, EVENT_TIME, sample_enrichment

TASK_TYPES = ["CUSTOM_TASK_ASSIGNED", "CUSTOM_TASK_COMPLETED"]

# What enrichment produces per event type (CLAIMX.md), as row list -> count.
EXPECTED_ROWS = {
    "PROJECT_CREATED": {"projects": 1, "contacts": 2},
    "PROJECT_MFN_ADDED": {"projects": 1},
    "PROJECT_FILE_ADDED": {"projects": 1, "media": 1, "download_tasks": 1},
    "CUSTOM_TASK_ASSIGNED": {
        "projects": 1,
        "contacts": 1,
        "tasks": 1,
        "task_templates": 1,
        "external_links": 1,
    },
    "CUSTOM_TASK_COMPLETED": {
        "projects": 1,
        "contacts": 1,
        "tasks": 1,
        "task_templates": 1,
        "external_links": 1,
    },
    "POLICYHOLDER_INVITED": {"projects": 1},
    "POLICYHOLDER_JOINED": {"projects": 1},
    "VIDEO_COLLABORATION_INVITE_SENT": {"projects": 1, "video_collab": 1},
    "VIDEO_COLLABORATION_COMPLETED": {"projects": 1, "video_collab": 1},
    "PROJECT_AUTO_XA_LINKING_UNSUCCESSFUL": {"projects": 1},
    UNKNOWN_EVENT_TYPE: {},
}


def row_counts(rows: object) -> dict[str, int]:
    data = converter.unstructure(rows)
    return {name: len(items) for name, items in data.items() if items}


@pytest.mark.parametrize("event_type", [t.value for t in EventType])
def test_events_of_every_type_survive_the_worker_s_parsing(event_type: str) -> None:
    event = make_event(event_type)
    assert event.event_type == event_type
    assert event.project_id == "12345"
    assert event.created_at == EVENT_TIME
    assert parse_event(event_to_json(event)) == event


def test_each_type_carries_its_own_id_derived_from_the_project() -> None:
    assert make_event("CUSTOM_TASK_ASSIGNED").task_assignment_id == "12345678"
    assert make_event("CUSTOM_TASK_COMPLETED").task_assignment_id == "12345681"
    assert make_event("PROJECT_FILE_ADDED").media_id == "12345000"
    assert make_event("VIDEO_COLLABORATION_COMPLETED").video_collaboration_id == "1234501"
    assert make_event("PROJECT_MFN_ADDED").master_file_name == "MFN-12345"
    assert make_event("PROJECT_FILE_ADDED", project_id="77").media_id == "77000"
    created = make_event("PROJECT_CREATED")
    assert (created.task_assignment_id, created.media_id, created.master_file_name) == (
        None,
        None,
        None,
    )


def test_events_are_deterministic_and_ids_differ_by_content() -> None:
    assert make_event("CUSTOM_TASK_COMPLETED") == make_event("CUSTOM_TASK_COMPLETED")
    ids = {make_event(t).event_id for t in [*EventType, UNKNOWN_EVENT_TYPE]}
    assert len(ids) == len(EventType) + 1
    assert make_event("PROJECT_CREATED", project_id="1").event_id != (
        make_event("PROJECT_CREATED", project_id="2").event_id
    )


def test_overrides_go_through_event_parsing() -> None:
    event = make_event(
        "custom_task_assigned",
        task_assignment_id=98765,
        created_at="2024-06-01T08:00:00Z",
        retry_count="2",
        event_id="evt-1",
    )
    assert event.event_type == "CUSTOM_TASK_ASSIGNED"
    assert event.task_assignment_id == "98765"
    assert event.created_at == datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    assert event.retry_count == 2
    assert event.event_id == "evt-1"


def test_an_unknown_type_is_kept_as_given() -> None:
    event = make_event("SOMETHING_NEW")
    assert event.event_type == "SOMETHING_NEW"
    assert event.known_type is None


def test_an_unknown_field_is_refused_with_the_field_list() -> None:
    with pytest.raises(TypeError, match=r"unknown field\(s\) \['task_id'\].*task_assignment_id"):
        make_event("CUSTOM_TASK_COMPLETED", task_id=456)


@pytest.mark.parametrize("event_type", list(EXPECTED_ROWS))
def test_rows_are_those_enrichment_builds_for_the_type(event_type: str) -> None:
    event, rows = make_enriched_event(event_type)
    assert row_counts(rows) == EXPECTED_ROWS[event_type]
    for name, items in converter.unstructure(rows).items():
        for item in items:
            assert item["event_id"] == event.event_id, name
            assert item.get("project_id", "12345") == "12345", name  # templates have none
            if name != "download_tasks":
                assert item["last_enriched_at"] == ENRICHED_AT.isoformat(
                    timespec="milliseconds"
                ).replace("+00:00", "Z")


def test_task_rows_use_template_456_unless_told() -> None:
    event = make_event("CUSTOM_TASK_COMPLETED")
    rows = make_rows(event)
    assert rows.tasks[0].task_id == 456
    assert rows.tasks[0].assignment_id == 12345681
    assert rows.task_templates[0].task_id == 456
    assert rows.external_links[0].assignment_id == 12345681
    other = make_rows(event, task_id=789)
    assert (other.tasks[0].task_id, other.task_templates[0].task_id) == (789, 789)
    assert other.tasks[0].task_name == "Task template 789"


@pytest.mark.parametrize("project_id", ["12345", "7", "100"])
def test_a_task_s_status_fits_its_event(project_id: str) -> None:
    assigned = make_rows(make_event("CUSTOM_TASK_ASSIGNED", project_id=project_id)).tasks[0]
    completed = make_rows(make_event("CUSTOM_TASK_COMPLETED", project_id=project_id)).tasks[0]
    assert (assigned.status, assigned.date_completed) == ("ASSIGNED", None)
    assert completed.status == "COMPLETED"
    assert completed.date_completed is not None


def test_a_list_of_columns_or_a_whole_list_can_be_replaced() -> None:
    event = make_event("CUSTOM_TASK_COMPLETED")
    rows = make_rows(event, tasks={"status": "CANCELLED"}, projects=())
    assert rows.tasks[0].status == "CANCELLED"
    assert rows.projects == ()
    assert rows.project is None
    assert rows.task_templates  # untouched lists stay


def test_a_column_is_set_on_every_row_that_has_it() -> None:
    rows = make_rows(make_event("CUSTOM_TASK_COMPLETED"), mfn="MFN-X", project_id="9")
    assert rows.tasks[0].mfn == "MFN-X"
    assert rows.projects[0].master_file_name != "MFN-X"  # another column
    data = converter.unstructure(rows)
    assert {
        item["project_id"] for name in ("projects", "tasks", "contacts") for item in data[name]
    } == {"9"}


def test_unknown_row_overrides_are_refused() -> None:
    event = make_event("CUSTOM_TASK_COMPLETED")
    with pytest.raises(TypeError, match="neither a row list"):
        make_rows(event, colour="red")
    with pytest.raises(TypeError, match=r"tasks rows have no column\(s\) \['colour'\]"):
        make_rows(event, tasks={"colour": "red"})
    with pytest.raises(TypeError, match="sequence of rows or a mapping"):
        make_rows(event, tasks="x")


def test_file_events_get_their_media_and_download_task_whatever_the_media_id() -> None:
    for media_id in ("12345000", "m-77"):
        rows = make_rows(make_event("PROJECT_FILE_ADDED", media_id=media_id))
        assert [m.media_id for m in rows.media] == [media_id]
        task = rows.download_tasks[0]
        assert task.media_id == media_id
        assert task.blob_path == f"12345/media/photo_{media_id}.jpg"


def test_a_task_event_enrichment_rejects_raises_its_permanent_error() -> None:
    event = make_event("CUSTOM_TASK_COMPLETED", task_assignment_id="abc")
    with pytest.raises(PermanentError, match="task_assignment_id not numeric"):
        make_rows(event)


def test_metadata_names_the_handler() -> None:
    enrichment = sample_enrichment(make_event("CUSTOM_TASK_ASSIGNED"))
    assert enrichment.metadata.handler == "custom_task"
    assert enrichment.metadata.api_calls == 2
    assert enrichment.metadata.duration_ms == 0.0


async def test_factories_work_inside_a_running_event_loop() -> None:
    event, rows = make_enriched_event("CUSTOM_TASK_COMPLETED")
    assert rows.tasks[0].task_id == 456
    assert make_rows(event) == rows
