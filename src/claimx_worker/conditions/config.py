"""The ``conditions:`` configuration: a group (exactly one of ``all:`` / ``any:``) of tests and
nested groups; a test is ``{field: <name>, <operator>: <value>}`` with exactly one operator.

Checked while structuring (each problem at its own key's line): unknown fields (with the nearest
names), operators that do not fit the field's type, two operators in one test, values that are
not of the field's type. Values are read once, here, by the field's **declared** type, never
guessed at match time:

- string fields take strings; a whole number is read as its digits (``1234`` is ``"1234"``);
- integer fields take whole numbers; a string of digits is read as the number (``"1234"`` is
  ``1234``), anything else is refused;
- number fields take numbers or numeric strings; boolean fields ``true`` / ``false``;
- timestamp fields take ISO-8601 timestamps (``2024-05-01T12:00:00Z``; without an offset: UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from types import MappingProxyType
from typing import Any

import attrs
from attrs import frozen

from claimx_worker.conditions.fields import FIELDS, FieldSpec, FieldType, unknown_field_message
from claimx_worker.config.converter import CONFIG_KEY, new_config_converter
from claimx_worker.config.problems import ConfigValueError

_ANY_TYPE = frozenset(FieldType)
_ORDERED = frozenset({FieldType.INTEGER, FieldType.NUMBER, FieldType.TIMESTAMP})
_STRING = frozenset({FieldType.STRING})

OPERATORS: Mapping[str, frozenset[FieldType]] = MappingProxyType(
    {
        "equals": _ANY_TYPE,
        "not_equals": _ANY_TYPE,
        "in": _ANY_TYPE,
        "not_in": _ANY_TYPE,
        "anything_but": _ANY_TYPE,
        "exists": _ANY_TYPE,
        "prefix": _STRING,
        "suffix": _STRING,
        "equals_ignore_case": _STRING,
        "gt": _ORDERED,
        "gte": _ORDERED,
        "lt": _ORDERED,
        "lte": _ORDERED,
    }
)
"""Every operator and the field types it fits."""

LIST_OPERATORS = frozenset({"in", "not_in"})
"""Operators whose value is a non-empty list (``anything_but`` takes a value or a list)."""

_PYTHON_TYPES: Mapping[FieldType, type] = {
    FieldType.STRING: str,
    FieldType.INTEGER: int,
    FieldType.NUMBER: float,
    FieldType.BOOLEAN: bool,
}
_CONVERTER = new_config_converter()


@frozen(kw_only=True)
class Condition:
    """A group (``all`` / ``any``: conditions that must all / at least one match) or a test
    (``field`` and one operator). See the module docstring for the rules."""

    all_: tuple[Condition, ...] | None = attrs.field(default=None, metadata={CONFIG_KEY: "all"})
    any_: tuple[Condition, ...] | None = attrs.field(default=None, metadata={CONFIG_KEY: "any"})
    field: str | None = None
    equals: Any = None
    not_equals: Any = None
    in_: Any = attrs.field(default=None, metadata={CONFIG_KEY: "in"})
    not_in: Any = None
    anything_but: Any = None
    exists: Any = None
    prefix: Any = None
    suffix: Any = None
    equals_ignore_case: Any = None
    gt: Any = None
    gte: Any = None
    lt: Any = None
    lte: Any = None

    def __attrs_post_init__(self) -> None:
        if self.is_group:
            _check_group(self)
        else:
            test_parts(self)

    @property
    def is_group(self) -> bool:
        """Whether this is an ``all:`` / ``any:`` group."""
        return self.all_ is not None or self.any_ is not None

    @property
    def operators(self) -> tuple[str, ...]:
        """The operators set in this test, by their YAML names."""
        return tuple(name for name in OPERATORS if getattr(self, _attribute(name)) is not None)


def _attribute(operator_name: str) -> str:
    return "in_" if operator_name == "in" else operator_name


def _check_group(condition: Condition) -> None:
    if condition.all_ is not None and condition.any_ is not None:
        raise ConfigValueError("a group has exactly one of all: / any:, not both", key="any_")
    if condition.field is not None or condition.operators:
        raise ConfigValueError(
            "a group (all: / any:) holds conditions only: write the test as an item of its list",
            key="all_" if condition.all_ is not None else "any_",
        )
    key = "all_" if condition.all_ is not None else "any_"
    if not getattr(condition, key):
        raise ConfigValueError("a group needs at least one condition", key=key)


@frozen
class TestParts:
    """A checked test: its field, operator and value read by the field's type (a frozenset for
    ``in`` / ``not_in`` / ``anything_but``)."""

    spec: FieldSpec
    operator: str
    value: Any


def test_parts(condition: Condition) -> TestParts:
    """The checked parts of a test; raises :class:`ConfigValueError` at the offending key."""
    if condition.field is None:
        raise ConfigValueError(
            "a condition is a test ({field: ..., <operator>: value}) or a group (all: / any:)"
        )
    spec = FIELDS.get(condition.field)
    if spec is None:
        raise ConfigValueError(unknown_field_message(condition.field), key="field")
    operators = condition.operators
    if not operators:
        raise ConfigValueError(
            f"test of {spec.name!r} needs one operator: {', '.join(OPERATORS)}", key="field"
        )
    if len(operators) > 1:
        raise ConfigValueError(
            f"two operators in one test ({', '.join(operators)}): write one test per operator "
            "inside all:",
            key=_attribute(operators[1]),
        )
    name = operators[0]
    key = _attribute(name)
    if spec.type not in OPERATORS[name]:
        fits = ", ".join(sorted(op for op, types in OPERATORS.items() if spec.type in types))
        raise ConfigValueError(
            f"operator {name!r} does not fit {spec.name!r} ({_article(spec.type)} field); "
            f"operators for {spec.type} fields: {fits}",
            key=key,
        )
    raw = getattr(condition, key)
    try:
        value = _read_operand(spec, name, raw)
    except ValueError as error:
        raise ConfigValueError(f"{name}: {error}", key=key) from None
    return TestParts(spec, name, value)


def _read_operand(spec: FieldSpec, name: str, raw: Any) -> Any:
    if name == "exists":
        return _CONVERTER.structure(raw, bool)
    if name in LIST_OPERATORS or (name == "anything_but" and isinstance(raw, list)):
        items = _CONVERTER.structure(raw, list[Any])
        if not items:
            raise ValueError("expected a non-empty list, got an empty list")
        return frozenset(read_value(spec, item) for item in items)
    if name == "anything_but":
        return frozenset({read_value(spec, raw)})
    if name in ("gt", "gte", "lt", "lte") and spec.type is FieldType.INTEGER:
        return read_value(attrs.evolve(spec, type=FieldType.NUMBER), raw)
    return read_value(spec, raw)


def read_value(spec: FieldSpec, raw: Any) -> Any:
    """``raw`` read as a value of ``spec``'s declared type; raises ``ValueError``."""
    kind = spec.type
    if kind is FieldType.STRING:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return str(raw)  # a whole number written for a string field: its digits
    elif kind is FieldType.TIMESTAMP:
        when = _timestamp(raw)
        if when is None:
            text = _CONVERTER.structure(raw, str)  # raises for anything but a string
            raise ValueError(
                f"expected an ISO-8601 timestamp for {spec.name!r} (e.g. 2024-05-01T12:00:00Z), "
                f"got the string {text[:60]!r}"
            )
        return when
    try:
        return _CONVERTER.structure(raw, _PYTHON_TYPES[kind])
    except ConfigValueError as error:
        raise ValueError(f"{spec.name!r} is {_article(kind)} field: {error}") from None


def _timestamp(raw: Any) -> datetime | None:
    if isinstance(raw, str):
        try:
            raw = datetime.fromisoformat(raw.strip())
        except ValueError:
            return None
    if isinstance(raw, datetime):
        return raw if raw.tzinfo is not None else raw.replace(tzinfo=UTC)
    if isinstance(raw, date):
        return datetime.combine(raw, time(), tzinfo=UTC)
    return None


def require_group(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator of a ``conditions:`` field: ``None`` or an ``all:`` / ``any:`` group."""
    if isinstance(value, Condition) and not value.is_group:
        raise ConfigValueError(
            "conditions must be a group: start with all: or any: (a list of tests)",
            key=attribute.name,
        )


def _article(kind: FieldType) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
