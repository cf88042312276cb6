"""Conditions compiled once into matchers: a test is a getter and a predicate on the value.

A missing value (``None``: no such row, or an empty column) matches only ``exists: false``;
every other operator is false on it, the negative ones (``not_equals``, ``not_in``,
``anything_but``) included. Timestamps without an offset are read as UTC.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from attrs import frozen

from claimx_worker.conditions.config import Condition, TestParts, test_parts
from claimx_worker.conditions.fields import FieldType, Getter
from claimx_worker.model.event import ClaimXEvent
from claimx_worker.model.rows import EntityRows

Predicate = Callable[[Any], bool]


@frozen
class TestReport:
    """One test's verdict: the field, operator, expected value and the value seen."""

    field: str
    operator: str
    expected: Any
    seen: Any
    matched: bool

    def to_json(self) -> dict[str, Any]:
        """JSON-able form (timestamps as ISO-8601, sets as sorted lists)."""
        return {
            "field": self.field,
            "operator": self.operator,
            "expected": _plain(self.expected),
            "seen": _plain(self.seen),
            "matched": self.matched,
        }


@frozen
class ConditionReport:
    """A group's verdict and its members' reports."""

    kind: str
    matched: bool
    members: tuple[ConditionReport | TestReport, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            self.kind: [member.to_json() for member in self.members],
            "matched": self.matched,
        }

    def lines(self, indent: str = "") -> list[str]:
        """Human-readable lines, one per test and group."""
        out = [f"{indent}{self.kind}: {'matched' if self.matched else 'not matched'}"]
        for member in self.members:
            if isinstance(member, ConditionReport):
                out.extend(member.lines(indent + "  "))
            else:
                mark = "yes" if member.matched else "NO "
                seen = "(missing)" if member.seen is None else _shown(member.seen)
                out.append(
                    f"{indent}  [{mark}] {member.field} {member.operator} "
                    f"{_shown(member.expected)} (saw {seen})"
                )
        return out


Check = Callable[[ClaimXEvent, EntityRows], bool]
"""A compiled test or group: does the event with its rows pass?"""


class TestMatcher:
    """A test, ready to run: ``matches`` is one closure (the hot path)."""

    __slots__ = ("_get", "matches", "parts")

    def __init__(self, parts: TestParts) -> None:
        self.parts = parts
        self._get: Getter = parts.spec.get
        self.matches: Check = _fused(parts) or _generic(parts)
        """Whether the event and rows pass this test."""

    def explain(self, event: ClaimXEvent, rows: EntityRows) -> TestReport:
        """This test's verdict with the value it saw."""
        parts = self.parts
        return TestReport(
            parts.spec.name,
            parts.operator,
            parts.value,
            self._get(event, rows),
            self.matches(event, rows),
        )


class ConditionMatcher:
    """An ``all:`` or ``any:`` group, ready to run: ``matches`` is one closure over its
    members' (the hot path)."""

    __slots__ = ("kind", "matches", "members")

    def __init__(self, kind: str, members: tuple[ConditionMatcher | TestMatcher, ...]) -> None:
        self.kind = kind
        self.members = members
        checks = tuple(member.matches for member in members)

        def every(event: ClaimXEvent, rows: EntityRows) -> bool:
            for check in checks:  # noqa: SIM110 - a loop: all() over a generator costs more
                if not check(event, rows):
                    return False
            return True

        def some(event: ClaimXEvent, rows: EntityRows) -> bool:
            for check in checks:  # noqa: SIM110 - as above
                if check(event, rows):
                    return True
            return False

        self.matches: Check = every if kind == "all" else some
        """Whether the event and rows pass this group."""

    def explain(self, event: ClaimXEvent, rows: EntityRows) -> ConditionReport:
        """This group's verdict with every member's (none skipped)."""
        return ConditionReport(
            self.kind,
            self.matches(event, rows),
            tuple(member.explain(event, rows) for member in self.members),
        )


def compile_conditions(condition: Condition) -> ConditionMatcher:
    """A top-level ``conditions:`` group compiled (it was checked when it was structured)."""
    compiled = compile_condition(condition)
    if not isinstance(compiled, ConditionMatcher):
        raise TypeError("conditions must be a group (all: / any:)")
    return compiled


def compile_condition(condition: Condition) -> ConditionMatcher | TestMatcher:
    """``condition`` compiled (it was checked when it was structured)."""
    if condition.all_ is not None:
        return ConditionMatcher("all", tuple(compile_condition(c) for c in condition.all_))
    if condition.any_ is not None:
        return ConditionMatcher("any", tuple(compile_condition(c) for c in condition.any_))
    return TestMatcher(test_parts(condition))


def _generic(parts: TestParts) -> Check:
    """The test as the field's getter, then the operator's predicate on the value seen."""
    get = parts.spec.get
    missing = parts.operator == "exists" and parts.value is False
    predicate = _predicate(parts)

    def matches(event: ClaimXEvent, rows: EntityRows) -> bool:
        value = get(event, rows)
        if value is None:
            return missing
        return predicate(value)

    return matches


def _fused(parts: TestParts) -> Check | None:
    """The test as one closure (getter and operator inlined) for the common operators on
    non-timestamp fields, or ``None``: :func:`_generic` then. Same verdicts, one call less."""
    if parts.spec.type is FieldType.TIMESTAMP:
        return None
    get = parts.spec.get
    value = parts.value
    name = parts.operator
    if name == "equals":

        def equals(event: ClaimXEvent, rows: EntityRows) -> bool:
            seen = get(event, rows)
            return seen is not None and value == seen

        return equals
    if name == "in":

        def within(event: ClaimXEvent, rows: EntityRows) -> bool:
            seen = get(event, rows)
            return seen is not None and seen in value

        return within
    if name == "prefix":

        def prefix(event: ClaimXEvent, rows: EntityRows) -> bool:
            seen = get(event, rows)
            return seen is not None and seen.startswith(value)

        return prefix
    if name in ("not_in", "anything_but"):

        def outside(event: ClaimXEvent, rows: EntityRows) -> bool:
            seen = get(event, rows)
            return seen is not None and seen not in value

        return outside
    return None


def _predicate(parts: TestParts) -> Predicate:
    value = parts.value
    name = parts.operator
    predicate: Predicate
    if name == "exists":
        return lambda _seen: bool(value)
    if name == "equals":
        predicate = partial(operator.eq, value)
    elif name == "not_equals":
        predicate = partial(operator.ne, value)
    elif name == "in":
        predicate = value.__contains__
    elif name in ("not_in", "anything_but"):
        predicate = lambda seen: seen not in value  # noqa: E731
    elif name == "prefix":
        predicate = lambda seen: seen.startswith(value)  # noqa: E731
    elif name == "suffix":
        predicate = lambda seen: seen.endswith(value)  # noqa: E731
    elif name == "equals_ignore_case":
        folded = value.casefold()
        predicate = lambda seen: seen.casefold() == folded  # noqa: E731
    else:
        compare = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}[
            name
        ]
        predicate = lambda seen: compare(seen, value)  # noqa: E731
    if parts.spec.type is FieldType.TIMESTAMP:
        return lambda seen: predicate(_aware(seen))
    return predicate


def _aware(seen: datetime) -> datetime:
    return seen if seen.tzinfo is not None else seen.replace(tzinfo=UTC)


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset):
        return sorted((_plain(item) for item in value), key=str)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _shown(value: Any) -> str:
    plain = _plain(value)
    return repr(plain) if not isinstance(plain, list) else "[" + ", ".join(map(repr, plain)) + "]"
