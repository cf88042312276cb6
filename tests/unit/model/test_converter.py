"""The shared converter: row columns as JSON scalars, datetimes as UTC ISO-8601 with ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from claimx_worker import (
    ContactRow,
    ExternalLinkRow,
    MediaRow,
    ProjectRow,
    TaskRow,
    TaskTemplateRow,
    VideoCollabRow,
    converter,
)
from claimx_worker.model.datetimes import datetime_text, format_datetime

ROW_CLASSES = (
    ProjectRow,
    ContactRow,
    MediaRow,
    TaskRow,
    TaskTemplateRow,
    ExternalLinkRow,
    VideoCollabRow,
)
SAMPLES: dict[type, object] = {
    str: "text",
    int: 42,
    float: 2.5,
    bool: True,
    datetime: datetime(2024, 5, 1, 12, 0, 0, 250_000, tzinfo=UTC),
}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2024, 5, 1, 12, 0, 0, 250_000, tzinfo=UTC), "2024-05-01T12:00:00.250Z"),
        (datetime(2024, 5, 1, 12, 0, tzinfo=UTC), "2024-05-01T12:00:00.000Z"),
        (datetime(2024, 5, 1, 12, 0, 0, 999_999, tzinfo=UTC), "2024-05-01T12:00:00.999Z"),
        (
            datetime(2024, 5, 1, 14, 30, 0, 5_000, tzinfo=timezone(timedelta(hours=2, minutes=30))),
            "2024-05-01T12:00:00.005Z",
        ),
        (datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(0))), "2024-05-01T12:00:00.000Z"),
        (datetime(2024, 5, 1, 12, 0, 0, 250_000), "2024-05-01T12:00:00.250000"),
    ],
)
def test_datetimes_are_utc_millisecond_iso(value: datetime, text: str) -> None:
    assert converter.unstructure(value, datetime) == text
    assert converter.unstructure(value, datetime | None) == text
    assert (
        converter.unstructure(
            TaskRow(assignment_id=1, task_id=2, project_id="3", date_assigned=value)
        )["date_assigned"]
        == text
    )


def test_equal_wall_times_on_both_sides_of_a_dst_change_stay_distinct() -> None:
    # the same tzinfo makes these compare (and hash) equal, yet they are an hour apart
    first = datetime(2024, 11, 3, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    second = first.replace(fold=1)
    assert converter.unstructure(first, datetime) == "2024-11-03T05:30:00.000Z"
    assert converter.unstructure(second, datetime) == "2024-11-03T06:30:00.000Z"


@pytest.mark.parametrize("row_class", ROW_CLASSES)
def test_every_column_set(row_class: type) -> None:
    values = {field.name: _sample(field.type) for field in attrs.fields(row_class)}
    row = row_class(**values)
    expected = {
        name: "2024-05-01T12:00:00.250Z" if isinstance(value, datetime) else value
        for name, value in values.items()
    }
    assert converter.unstructure(row) == expected
    assert converter.structure(converter.unstructure(row), row_class) == row


@pytest.mark.parametrize("row_class", ROW_CLASSES)
def test_unset_columns_are_none(row_class: type) -> None:
    required = {
        field.name: _sample(field.type)
        for field in attrs.fields(row_class)
        if field.default is attrs.NOTHING
    }
    row = row_class(**required)
    unstructured = converter.unstructure(row)
    assert list(unstructured) == [field.name for field in attrs.fields(row_class)]
    for field in attrs.fields(row_class):
        if field.name not in required:
            assert unstructured[field.name] == field.default


def _sample(annotation: object) -> object:
    for type_, value in SAMPLES.items():
        if annotation in (type_, type_ | None, type_.__name__, f"{type_.__name__} | None"):
            return value
    raise AssertionError(f"no sample for {annotation!r}")


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-9, minutes=-30)), None]),
    )
)
def test_the_uncached_text_is_the_standard_iso_format(value: datetime) -> None:
    if value.tzinfo is None:
        expected = value.isoformat()
    else:
        expected = value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
    assert datetime_text(value) == expected
    assert format_datetime(value) == expected
