"""Action payloads on the wire: the JSON of the unstructured value, whatever it holds."""

from __future__ import annotations

import enum
import json
import math
from collections import OrderedDict
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claimx_worker import TaskRow, converter
from claimx_worker.actions.encoding import InvalidActionError, payload_bytes


class Colour(enum.Enum):
    RED = "red"


class Size(enum.IntEnum):
    SMALL = 1


def reference(value: Any) -> bytes:
    """The definition: unstructure everything with the model converter, then compact JSON."""
    data = converter.unstructure(value)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


MOMENT = datetime(2024, 5, 1, 12, 0, 0, 250_000, tzinfo=UTC)
TASK = TaskRow(assignment_id=1, task_id=456, project_id="12", date_assigned=MOMENT)


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [1.5, "x", None, True], "c": {"d": "é"}},
        {
            "when": MOMENT,
            "naive": datetime(2024, 5, 1),
            "offset": MOMENT.astimezone(timezone(timedelta(hours=2))),
        },
        {"task": TASK, "tasks": (TASK, TASK)},
        [Colour.RED, Size.SMALL, ("t", 1)],
        OrderedDict([("z", 1), ("a", 2)]),
        {"proxy": MappingProxyType({"k": MOMENT})},
        {1: "int key", None: "none key", 2.5: "float key"},
        {"bytes": b"raw", "set": {3, 1, 2}, "frozen": frozenset({"a"})},
        TASK,
        "plain",
        10**30,
    ],
    ids=repr,
)
def test_the_wire_form_is_the_converter_s_json(value: Any) -> None:
    assert payload_bytes(value) == reference(value)


def test_bytes_pass_through() -> None:
    assert payload_bytes(b"\x00raw") == b"\x00raw"
    assert payload_bytes(bytearray(b"raw")) == b"raw"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"f": math.nan}, "payload is not JSON-serialisable: Out of range float values"),
        ({"d": Decimal("1.5")}, "payload is not JSON-serialisable: Object of type Decimal is"),
        ({"o": object()}, "payload is not JSON-serialisable: Object of type object is not"),
        ({"s": "\ud800"}, "payload text is not valid UTF-8 (a lone surrogate)"),
        ({(1, 2): "tuple key"}, "payload is not JSON-serialisable: "),
    ],
    ids=repr,
)
def test_what_json_cannot_carry_is_an_invalid_action(value: Any, reason: str) -> None:
    with pytest.raises(InvalidActionError) as caught:
        payload_bytes(value)

    assert str(caught.value).startswith(reason)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.datetimes(timezones=st.none() | st.just(UTC))
    | st.binary(max_size=8)
    | st.sampled_from([Colour.RED, Size.SMALL, TASK]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_any_payload_encodes_as_the_converter_s_json(value: Any) -> None:
    payload = {"value": value}  # bytes at the top pass through as they are (tested above)

    assert payload_bytes(payload) == reference(payload)
