"""The payload of a matched trigger and its timestamp."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import pytest
from tests.unit.task_trigger.support import (
    PAYLOAD_BASE_KEYS,
    columns_of,
    project_row,
    task_event,
    task_row,
)

from claimx_plugin_task_trigger.payload import PayloadBuilder, UtcClock
from claimx_worker import EntityRows, ProjectRow, converter

ISO_MILLIS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def test_clock_formats_utc_with_milliseconds_and_z(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = UtcClock()
    moments = [
        datetime(2024, 5, 1, 12, 0, 0, 7_999, tzinfo=UTC),
        datetime(2024, 5, 1, 12, 0, 0, 999_999, tzinfo=UTC),
        datetime(2024, 5, 1, 12, 0, 1, 0, tzinfo=UTC),
        datetime(2031, 12, 31, 23, 59, 59, 123_456, tzinfo=UTC),
    ]
    shown = []
    for moment in moments:
        monkeypatch.setattr(time, "time_ns", lambda moment=moment: _ns(moment))
        shown.append(clock.now())

    assert shown == [
        "2024-05-01T12:00:00.007Z",
        "2024-05-01T12:00:00.999Z",
        "2024-05-01T12:00:01.000Z",
        "2031-12-31T23:59:59.123Z",
    ]


def test_clock_reads_the_real_time() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    shown = UtcClock().now()
    after = datetime.now(UTC)

    assert ISO_MILLIS_Z.match(shown)
    assert before <= datetime.fromisoformat(shown.replace("Z", "+00:00")) <= after


def test_payload_has_exactly_the_documented_keys() -> None:
    builder = PayloadBuilder(include_task_data=True, include_project_data=True)
    task, project = task_row(), project_row()
    event = task_event("CUSTOM_TASK_COMPLETED")

    payload = builder.build(
        "Photo Documentation Task", event, columns_of(task), columns_of(project)
    )

    timestamp = payload.pop("timestamp")
    assert ISO_MILLIS_Z.match(timestamp)
    assert payload == {
        "trigger_name": "Photo Documentation Task",
        "event_id": "evt-8c1e5d0b2f",
        "event_type": "CUSTOM_TASK_COMPLETED",
        "project_id": "12345",
        "task_id": 456,
        "assignment_id": 98765,
        "task_name": "Photo Documentation",
        "task_status": "COMPLETED",
        "task": converter.unstructure(task),
        "project": converter.unstructure(project),
    }


def test_rows_serialise_to_plain_json_with_iso_dates() -> None:
    builder = PayloadBuilder(include_task_data=True, include_project_data=True)

    payload = builder.build("T", task_event(), columns_of(task_row()), columns_of(project_row()))

    assert json.loads(json.dumps(payload)) == payload
    assert payload["task"]["date_completed"] == "2024-05-01T11:59:58.000Z"
    assert payload["task"]["last_enriched_at"] == "2024-05-01T12:00:00.250Z"
    assert payload["task"]["assignor_email"] == "adjuster@example.com"
    assert payload["project"]["date_of_loss"] == "2024-04-27T00:00:00.000Z"
    assert payload["project"]["customer_last_name"] == "Lovelace"


@pytest.mark.parametrize(
    ("include_task", "include_project", "extra_keys"),
    [(True, False, {"task"}), (False, True, {"project"}), (False, False, set())],
)
def test_include_flags(include_task: bool, include_project: bool, extra_keys: set[str]) -> None:
    builder = PayloadBuilder(include_task_data=include_task, include_project_data=include_project)

    payload = builder.build("T", task_event(), columns_of(task_row()), columns_of(project_row()))

    assert set(payload) - set(PAYLOAD_BASE_KEYS) == extra_keys


def test_included_project_is_null_without_a_project_row() -> None:
    builder = PayloadBuilder(include_task_data=False, include_project_data=True)

    payload = builder.build("T", task_event(), columns_of(task_row()), None)

    assert payload["project"] is None


def test_included_project_has_every_column_when_its_event_wrote_only_some() -> None:
    builder = PayloadBuilder(include_task_data=False, include_project_data=True)
    written = EntityRows.from_columns(projects=[{"project_id": "12345", "status": "OPEN"}])

    payload = builder.build(
        "T", task_event(), columns_of(task_row()), written.columns("projects")[0]
    )

    assert payload["project"] == converter.unstructure(
        ProjectRow(project_id="12345", status="OPEN")
    )
    assert list(payload["project"]) == list(converter.unstructure(project_row()))
