"""ChangeRows: checked against the row classes when built, applied to a message's rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from claimx_worker import ChangeRows


def test_it_sets_columns_on_the_matching_rows_only() -> None:
    rows = [{"assignment_id": 1, "status": "A"}, {"assignment_id": 2, "status": "B"}]
    ChangeRows(rows="tasks", columns={"sla_band": "gold"}, where={"status": "B"}).apply(rows)
    assert rows == [
        {"assignment_id": 1, "status": "A"},
        {"assignment_id": 2, "status": "B", "sla_band": "gold"},
    ]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"rows": "orders", "columns": {"x": 1}}, "rows must be one of"),
        ({"rows": "tasks", "columns": {}}, "at least one column"),
        ({"rows": "tasks", "columns": {"assignment_id": 3}}, "cannot change"),
        ({"rows": "contacts", "columns": {"contact_email": "***"}}, "cannot change"),
        ({"rows": "tasks", "columns": {"task_name": 5}}, "tasks.task_name takes str"),
        ({"rows": "tasks", "columns": {"task_id": None}}, "takes int"),
        ({"rows": "tasks", "columns": {"derived": [1, 2]}}, "new column"),
        ({"rows": "tasks", "columns": {"Bad Name": 1}}, "not a column name"),
    ],
)
def test_a_change_the_table_would_refuse_is_refused_when_built(
    kwargs: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        ChangeRows(**kwargs)


def test_declared_types_and_new_scalars_are_accepted() -> None:
    ChangeRows(rows="projects", columns={"primary_email": "***", "year_built": None})
    ChangeRows(rows="media", columns={"latitude": 1, "seen_at": datetime.now(UTC)})
