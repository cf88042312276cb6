"""Tolerant reading of API responses: wrappers, one object vs list, loose value types."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from claimx_worker.claimx.builders import ProjectExport
from claimx_worker.claimx.parsing import (
    boolean,
    identifier,
    integer,
    number,
    record,
    records,
    text,
    timestamp,
)

ITEM = {"mediaID": 1}


@pytest.mark.parametrize(
    "payload",
    [
        [ITEM],
        ITEM,
        {"data": [ITEM]},
        {"media": [ITEM]},
        {"data": {"media": [ITEM]}},
        {"data": ITEM},
        [ITEM, "junk", None],
    ],
    ids=["list", "object", "data", "media", "data-media", "data-object", "junk-items"],
)
def test_records_accepts_every_shape(payload: object) -> None:
    assert records(payload, "data", "media") == [ITEM]


@pytest.mark.parametrize("payload", [None, {}, [], "text", {"data": None}])
def test_records_of_nothing_is_empty(payload: object) -> None:
    assert records(payload, "data") == []
    assert record(payload, "data") == {}


@pytest.mark.parametrize(
    "payload",
    [
        {
            "data": {
                "project": {"projectId": 1},
                "teamMembers": [{"userName": "a"}],
                "companyName": "C",
            }
        },
        {"project": {"projectId": 1}, "teamMembers": [{"userName": "a"}], "companyName": "C"},
        {"projectId": 1, "teamMembers": [{"userName": "a"}], "companyName": "C"},
        {
            "data": {
                "project": {"projectId": 1},
                "teamMembers": {"userName": "a"},
                "companyName": "C",
            }
        },
    ],
    ids=["data.project", "project", "top-level", "single-team-member"],
)
def test_project_export_is_found_wherever_it_sits(payload: object) -> None:
    export = ProjectExport.parse(payload)
    assert export.project["projectId"] == 1
    assert [m["userName"] for m in export.team_members()] == ["a"]
    assert export.columns["company_name"] == "C"


def test_value_readers() -> None:
    assert text(" ") is None
    assert text(12) == "12"
    assert text(True) == "true"
    assert text({"a": 1}) is None
    assert identifier(12.0) == "12"
    assert identifier("0012") == "0012"
    assert integer("42") == 42
    assert integer("42.0") == 42
    assert integer(4.5) is None
    assert integer(True) is None
    assert integer("x") is None
    assert number("1.5") == 1.5
    assert number(None) is None
    assert boolean("Yes") is True
    assert boolean(0) is False
    assert boolean("maybe") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-04T05:06:07Z", datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("2024-03-04T05:06:07", datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("2024-03-04", datetime(2024, 3, 4, tzinfo=UTC)),
        ("2024-03-04 05:06:07.123+00:00", datetime(2024, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)),
        (1_709_528_767_000, datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("not a date", None),
        (None, None),
        (True, None),
    ],
)
def test_timestamp(raw: object, expected: datetime | None) -> None:
    assert timestamp(raw) == expected
