"""parse_event / event_to_json: both key styles, tolerant of unknown keys, errors name the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from claimx_worker.errors import InvalidEventError
from claimx_worker.model import ClaimXEvent, EventType, event_to_json, parse_event

SNAKE = {
    "event_id": "evt-1",
    "event_type": "CUSTOM_TASK_ASSIGNED",
    "project_id": "12345",
    "created_at": "2024-05-01T10:20:30Z",
    "task_assignment_id": "987",
    "media_id": "55",
    "video_collaboration_id": "77",
    "master_file_name": "MFN-1",
    "retry_count": 2,
    "metadata": {"last_error": "boom"},
}
CAMEL = {
    "eventId": "evt-1",
    "eventType": "CUSTOM_TASK_ASSIGNED",
    "projectId": "12345",
    "createdAt": "2024-05-01T10:20:30Z",
    "taskAssignmentId": "987",
    "mediaId": "55",
    "videoCollaborationId": "77",
    "masterFileName": "MFN-1",
    "retryCount": 2,
    "metadata": {"last_error": "boom"},
}
EXPECTED = ClaimXEvent(
    event_id="evt-1",
    event_type="CUSTOM_TASK_ASSIGNED",
    project_id="12345",
    created_at=datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC),
    task_assignment_id="987",
    media_id="55",
    video_collaboration_id="77",
    master_file_name="MFN-1",
    retry_count=2,
    metadata={"last_error": "boom"},
)


@pytest.mark.parametrize("data", [SNAKE, CAMEL], ids=["snake", "camel"])
def test_both_key_styles_parse_to_the_same_event(data: dict[str, object]) -> None:
    assert parse_event(data) == EXPECTED
    assert parse_event(json.dumps(data)) == EXPECTED
    assert parse_event(json.dumps(data).encode()) == EXPECTED


def test_unknown_keys_are_ignored_and_ids_may_be_numbers() -> None:
    event = parse_event(
        {
            "eventId": "e",
            "eventType": "X",
            "projectId": 12345,
            "somethingNew": [1],
            "taskAssignmentId": 9,
        }
    )
    assert event.project_id == "12345"
    assert event.task_assignment_id == "9"
    assert event.known_type is None
    assert event.metadata == {}
    assert event.retry_count == 0


def test_ingested_at_stands_in_for_created_at() -> None:
    event = parse_event({**SNAKE, "created_at": None, "ingested_at": "2024-06-01T00:00:00+00:00"})
    assert event.created_at == datetime(2024, 6, 1, tzinfo=UTC)
    both = parse_event({**SNAKE, "ingestedAt": "2030-01-01T00:00:00Z"})
    assert both.created_at == EXPECTED.created_at


def test_retry_count_accepts_a_numeric_string() -> None:
    assert parse_event({**SNAKE, "retry_count": "3"}).retry_count == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event_id": None}, "event_id: expected string, got None"),
        ({"retry_count": "abc"}, "retry_count: expected int, got 'abc'"),
        ({"retry_count": True}, "retry_count: expected int, got True"),
        ({"created_at": "yesterday"}, "created_at: expected an ISO-8601 datetime, got 'yesterday'"),
        ({"media_id": [1]}, "media_id: expected string, got [1]"),
        ({"metadata": "x"}, "metadata: expected object, got 'x'"),
        ({"project_id": "  "}, "project_id: must not be empty"),
    ],
)
def test_invalid_values_name_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_event({**SNAKE, **change})
    assert str(caught.value) == message


def test_missing_required_fields_are_all_named() -> None:
    with pytest.raises(InvalidEventError) as caught:
        parse_event({"eventType": "PROJECT_CREATED"})
    assert str(caught.value) == (
        "event_id: required field missing; project_id: required field missing"
    )


@pytest.mark.parametrize(
    ("raw", "prefix"),
    [
        (b"{not json", "not valid JSON: "),
        (b"\xff\xfe", "not valid JSON: "),
        ("[1, 2]", "event: expected a JSON object, got list"),
    ],
)
def test_non_objects_are_rejected(raw: bytes | str, prefix: str) -> None:
    with pytest.raises(InvalidEventError, match="^" + prefix.replace("[", r"\[")):
        parse_event(raw)


def test_event_to_json_round_trips_in_snake_case() -> None:
    encoded = event_to_json(EXPECTED)
    decoded = json.loads(encoded)
    assert decoded["event_id"] == "evt-1"
    assert decoded["created_at"] == "2024-05-01T10:20:30.000Z"
    assert "eventId" not in decoded
    assert parse_event(encoded) == EXPECTED


def test_known_type() -> None:
    assert parse_event(SNAKE).known_type is EventType.CUSTOM_TASK_ASSIGNED
