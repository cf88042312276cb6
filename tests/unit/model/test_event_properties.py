"""parse_event on untrusted bytes: whatever arrives, the only error is InvalidEventError."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import JSON_VALUES

from claimx_worker.errors import InvalidEventError
from claimx_worker.model import ClaimXEvent, event_to_json, parse_event

_FIELDS = st.sampled_from(
    [
        "event_id",
        "eventType",
        "event_type",
        "project_id",
        "projectId",
        "created_at",
        "task_assignment_id",
        "retry_count",
        "metadata",
        "media_id",
        "ingested_at",
    ]
)
_EVENTS = st.dictionaries(_FIELDS, JSON_VALUES, max_size=8)


def _parse(data: bytes | str | dict[str, Any]) -> ClaimXEvent | None:
    """The event, or None when ``data`` is refused with a non-empty InvalidEventError."""
    try:
        return parse_event(data)
    except InvalidEventError as error:
        message = str(error)
    assert message
    return None


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_invalid_event(data: bytes) -> None:
    _parse(data)


@given(_EVENTS)
@settings(max_examples=300)
def test_any_json_object_parses_or_raises_invalid_event(fields: dict[str, Any]) -> None:
    event = _parse(json.dumps(fields))
    if event is not None:  # a parsed event encodes, and parses back to itself
        assert parse_event(event_to_json(event)) == event


@given(st.integers(min_value=1, max_value=100_000))
@settings(max_examples=25)
def test_deep_nesting_is_an_invalid_event(depth: int) -> None:
    metadata = "[" * depth + "]" * depth
    text = '{"event_id":"e","event_type":"PROJECT_CREATED","project_id":"1","metadata":{"x":%s}}'
    event = _parse(text % metadata)
    if event is not None:
        event_to_json(event)


def test_nesting_beyond_the_limit_is_refused_with_its_reason() -> None:
    text = '{"event_id":"e","event_type":"T","project_id":"1","metadata":{"x":%s}}'
    with pytest.raises(InvalidEventError, match="nested deeper than 32 levels"):
        parse_event(text % ("[" * 5000 + "]" * 5000))
    with pytest.raises(InvalidEventError, match="nested deeper than 32 levels"):
        parse_event(text % ("[" * 40 + "]" * 40))
    assert parse_event(text % ("[" * 20 + "]" * 20)).metadata


def test_huge_numbers_are_invalid_events_not_crashes() -> None:
    text = '{"event_id":"e","event_type":"T","project_id":%s}' % ("9" * 5000)
    with pytest.raises(InvalidEventError, match="not valid JSON"):
        parse_event(text)
