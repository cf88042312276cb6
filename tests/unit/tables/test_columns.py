"""Typing entity rows against a table's columns: conversions, new columns, refusals."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from claimx_worker.tables.columns import RowTypeError, TableColumns
from claimx_worker.tables.schemas import TABLES
from claimx_worker.tables.settings import TABLE_NAMES, TablesSettings

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=10,
)


def test_the_tables_are_the_seven_of_the_settings_in_order() -> None:
    assert tuple(TABLES) == TABLE_NAMES


def test_columns_are_typed_as_the_api_gives_them() -> None:
    tasks = TABLES["claimx_tasks"].schema
    assert tasks.field("assignment_id").type == pa.int64()
    assert tasks.field("project_id").type == pa.string()
    assert tasks.field("date_assigned").type == pa.timestamp("us", tz="UTC")
    assert TABLES["claimx_contacts"].required == ("project_id", "contact_type")


def test_values_are_converted_and_absent_columns_stay_absent() -> None:
    columns = TableColumns(TABLES["claimx_tasks"])
    (row,) = columns.typed(
        [
            {
                "assignment_id": 5,
                "task_id": 7,
                "project_id": "12",
                "date_assigned": "2024-05-01T10:00:00",
                "stp_enabled": None,
            }
        ]
    )
    assert row == {
        "assignment_id": 5,
        "task_id": 7,
        "project_id": "12",
        "date_assigned": datetime(2024, 5, 1, 10, tzinfo=UTC),
        "stp_enabled": None,
    }


def test_a_new_column_takes_the_type_of_its_first_value_and_refuses_another() -> None:
    columns = TableColumns(TABLES["claimx_tasks"])
    base = {"assignment_id": 5, "task_id": 7, "project_id": "12"}
    columns.typed([{**base, "sla_band": "gold", "unknown_null": None}])
    assert columns.types["sla_band"] == pa.string()
    assert "unknown_null" not in columns.types
    with pytest.raises(RowTypeError, match="sla_band"):
        columns.typed([{**base, "sla_band": 3}])


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"assignment_id": "5", "task_id": 7, "project_id": "1"}, "assignment_id"),
        ({"assignment_id": True, "task_id": 7, "project_id": "1"}, "assignment_id"),
        ({"assignment_id": 2**63, "task_id": 7, "project_id": "1"}, "assignment_id"),
        ({"task_id": 7, "project_id": "1"}, "has no 'assignment_id'"),
        ({"assignment_id": 5, "task_id": 7, "project_id": "1", "date_assigned": "May"}, "date"),
        ({"assignment_id": 5, "task_id": 7, "project_id": "1", "extra": [1]}, "new column"),
        ("not an object", "expected an object"),
    ],
)
def test_a_value_that_does_not_fit_is_refused_with_the_column(row: Any, reason: str) -> None:
    with pytest.raises(RowTypeError, match=reason):
        TableColumns(TABLES["claimx_tasks"]).typed([row])


@given(st.lists(json_values, max_size=3) | json_values)
def test_any_json_either_types_or_is_refused_cleanly(rows: Any) -> None:
    for table in TABLES.values():
        with contextlib.suppress(RowTypeError):
            TableColumns(table).typed(rows)


def test_each_table_lives_under_the_location_unless_given_a_path() -> None:
    settings = TablesSettings(location="s3://bucket/x/", paths={"claimx_tasks": "gs://b/tasks"})
    assert settings.table_uri("claimx_projects") == "s3://bucket/x/claimx_projects"
    assert settings.table_uri("claimx_tasks") == "gs://b/tasks"
    assert "secret" not in repr(TablesSettings(storage_options={"AWS_SECRET_ACCESS_KEY": "secret"}))
