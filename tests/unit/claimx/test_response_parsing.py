"""Tolerant reading of API responses: wrappers, one object vs list, loose value types."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claimx_worker.claimx.builders import ProjectExport
from claimx_worker.claimx.parsing import (
    boolean,
    identifier,
    integer,
    mapping,
    number,
    record,
    records,
    text,
    timestamp,
)
from claimx_worker.model.datetimes import format_datetime

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
        # epoch milliseconds no datetime can hold: the API's data is untrusted
        (10**20, None),
        (1e20, None),
        (-(10**18), None),
        (10**400, None),
        (float("inf"), None),
        (float("nan"), None),
        ("9999-12-31T23:59:59-01:00", None),
    ],
)
def test_timestamp(raw: object, expected: datetime | None) -> None:
    assert timestamp(raw) == expected


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text()
    | st.from_regex(r"\s*-?\d{1,25}(\.\d*)?\s*", fullmatch=True)
    | st.datetimes().map(datetime.isoformat)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3).map(MappingProxyType)
    ),
    max_leaves=8,
)


def expected_text(value: object) -> str | None:
    """The definition of :func:`text`."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int | float):
        return str(value)
    return None


@given(JSON_VALUES)
def test_value_readers_read_anything_without_raising(value: object) -> None:
    assert text(value) == expected_text(value)
    assert identifier(value) == (
        str(int(value)) if isinstance(value, float) and value.is_integer() else expected_text(value)
    )
    read_integer = integer(value)
    assert read_integer is None or type(read_integer) is int
    read_number = number(value)
    assert read_number is None or type(read_number) is float
    assert boolean(value) in (True, False, None)
    when = timestamp(value)
    assert when is None or (when.tzinfo is UTC and format_datetime(when))
    is_mapping = isinstance(value, Mapping)
    if is_mapping:
        assert mapping(value) is value
    else:
        assert mapping(value) == {}
    assert records(value) == (
        ([value] if value else [])
        if is_mapping
        else [item for item in value if isinstance(item, Mapping)]
        if isinstance(value, list)
        else []
    )
