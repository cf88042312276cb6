"""Conditions: every operator on every field type, nesting, missing values, refused configs."""

from __future__ import annotations

import json
import tempfile
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from claimx_worker import ClaimXEvent, Condition, EntityRows, ProjectRow, TaskRow, require_group
from claimx_worker.conditions import config as condition_config
from claimx_worker.conditions.compiled import (
    _fused,
    _generic,
    compile_condition,
    compile_conditions,
)
from claimx_worker.conditions.config import OPERATORS
from claimx_worker.conditions.fields import FIELDS, FieldType
from claimx_worker.config.problems import ConfigError
from claimx_worker.config.structuring import load_config_file
from claimx_worker.model import rows as rows_module
from claimx_worker.model.rows import ROW_LISTS

EVENT = ClaimXEvent(
    event_id="evt-1",
    event_type="CUSTOM_TASK_COMPLETED",
    project_id="12345",
    created_at=datetime(2024, 5, 1, 12, tzinfo=UTC),
    task_assignment_id="98765",
)
ROWS = EntityRows(
    projects=(
        ProjectRow(
            project_id="12345",
            state_province="TX",
            square_footage=1850.5,
            xa_autolink_fail=True,
            date_of_loss=datetime(2024, 4, 1),  # naive: read as UTC
        ),
    ),
    tasks=(
        TaskRow(
            assignment_id=98765,
            task_id=456,
            project_id="12345",
            task_name="Photo Documentation",
            status="COMPLETED",
            date_assigned=datetime(2024, 4, 30, 9, 15, tzinfo=UTC),
        ),
    ),
)


@attrs.frozen(kw_only=True)
class Holder:
    """A config class holding a top-level ``conditions:``, as a plugin's would."""

    conditions: Condition | None = attrs.field(default=None, validator=require_group)


def load(tmp_path: Path, text: str) -> Holder:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return load_config_file(path, Holder, env={}, key_prefix="config").value


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    prefix = f"{tmp_path / 'config.yaml'}:"
    return [str(problem).removeprefix(prefix) for problem in caught.value.problems]


def passes(field: str, operator: str, value: Any) -> bool:
    """Whether one test ``{field, operator: value}`` matches EVENT and ROWS."""
    key = "in_" if operator == "in" else operator
    condition = Condition(all_=(Condition(field=field, **{key: value}),))
    return compile_conditions(condition).matches(EVENT, ROWS)


# field type -> (field, its value in ROWS/EVENT, a smaller value, a larger value)
SAMPLES: dict[FieldType, tuple[str, Any, Any, Any]] = {
    FieldType.STRING: ("project.state_province", "TX", "OK", "WA"),
    FieldType.INTEGER: ("task_id", 456, 455, 457),
    FieldType.NUMBER: ("project.square_footage", 1850.5, 1000, "2000.25"),
    FieldType.BOOLEAN: ("project.xa_autolink_fail", True, False, False),
    FieldType.TIMESTAMP: (
        "date_assigned",
        "2024-04-30T09:15:00Z",
        "2024-04-30T09:14:59+00:00",
        "2024-04-30T10:15:00+01:00",  # the same instant as 09:15Z, written with an offset
    ),
}


@pytest.mark.parametrize("field_type", list(SAMPLES), ids=str)
def test_equality_and_list_operators_on_every_field_type(field_type: FieldType) -> None:
    field, same, other, _ = SAMPLES[field_type]

    assert passes(field, "equals", same)
    assert not passes(field, "equals", other)
    assert passes(field, "not_equals", other)
    assert not passes(field, "not_equals", same)
    assert passes(field, "in", [other, same])
    assert not passes(field, "in", [other])
    assert passes(field, "not_in", [other])
    assert not passes(field, "not_in", [same, other])
    assert passes(field, "anything_but", other)
    assert not passes(field, "anything_but", same)
    assert passes(field, "anything_but", [other])
    assert not passes(field, "anything_but", [same])
    assert passes(field, "exists", True)
    assert not passes(field, "exists", False)


@pytest.mark.parametrize(
    "field_type", [FieldType.INTEGER, FieldType.NUMBER, FieldType.TIMESTAMP], ids=str
)
def test_range_operators_on_ordered_field_types(field_type: FieldType) -> None:
    field, same, smaller, larger = SAMPLES[field_type]
    if field_type is FieldType.TIMESTAMP:
        larger = "2024-04-30T09:15:01Z"

    assert passes(field, "gt", smaller)
    assert not passes(field, "gt", same)
    assert passes(field, "gte", same)
    assert not passes(field, "gte", larger)
    assert passes(field, "lt", larger)
    assert not passes(field, "lt", same)
    assert passes(field, "lte", same)
    assert not passes(field, "lte", smaller)


def test_timestamps_compare_as_instants_and_naive_ones_are_utc() -> None:
    assert passes("date_assigned", "equals", "2024-04-30T10:15:00+01:00")
    assert passes("project.date_of_loss", "equals", "2024-04-01T00:00:00Z")
    assert passes("project.date_of_loss", "lt", "2024-04-01T00:00:01")


def test_string_operators_on_string_fields() -> None:
    assert passes("task_name", "prefix", "Photo")
    assert not passes("task_name", "prefix", "photo")
    assert passes("task_name", "suffix", "Documentation")
    assert not passes("task_name", "suffix", "x")
    assert passes("task_name", "equals_ignore_case", "PHOTO documentation")
    assert not passes("task_name", "equals_ignore_case", "Photo")


def test_the_declared_type_decides_1234_against_the_string_1234() -> None:
    # project_id is a string field: a number is read as its digits
    assert passes("project_id", "equals", 12345)
    assert passes("project_id", "equals", "12345")
    assert passes("project_id", "in", [1, 12345])
    # task_id is an integer field: a string of digits is read as the number
    assert passes("task_id", "equals", "456")
    assert passes("task_id", "in", ["456"])
    assert passes("assignment_id", "equals", 98765)


def test_conditions_read_the_first_task_row_and_event_fields() -> None:
    assert passes("task_status", "equals", "COMPLETED")
    assert passes("task.status", "equals", "COMPLETED")
    assert passes("event_type", "equals", "CUSTOM_TASK_COMPLETED")
    assert passes("event_id", "equals", "evt-1")
    assert passes("created_at", "gte", "2024-05-01T12:00:00Z")


def test_conditions_read_rows_as_written_without_making_typed_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    enriched = EntityRows.from_columns(**{name: ROWS.columns(name) for name in ROW_LISTS})
    monkeypatch.setattr(rows_module, "_typed_row", pytest.fail)
    condition = Condition(
        all_=(
            Condition(field="task_status", equals="COMPLETED"),
            Condition(field="date_assigned", gte="2024-04-30T09:15:00Z"),
            Condition(field="project.date_of_loss", lt="2024-04-01T00:00:01"),
            Condition(field="project.state_province", in_=["TX"]),
        )
    )

    assert compile_conditions(condition).matches(EVENT, enriched)


def test_a_missing_value_matches_only_exists_false() -> None:
    for operator, value in [
        ("equals", "x"),
        ("not_equals", "x"),
        ("in", ["x"]),
        ("not_in", ["x"]),
        ("anything_but", "x"),
        ("prefix", "x"),
        ("exists", True),
    ]:
        assert not passes("project.city", operator, value), operator
    assert passes("project.city", "exists", False)
    assert passes("task_template.name", "exists", False)  # no template row at all


def test_groups_nest_all_inside_any_inside_all() -> None:
    def leaf(field: str, value: Any) -> Condition:
        return Condition(field=field, equals=value)

    condition = Condition(
        all_=(
            leaf("task_id", 456),
            Condition(
                any_=(
                    leaf("project.state_province", "WA"),
                    Condition(all_=(leaf("task_status", "COMPLETED"), leaf("project_id", 12345))),
                )
            ),
        )
    )
    assert compile_conditions(condition).matches(EVENT, ROWS)
    failing = attrs.evolve(condition, all_=(*(condition.all_ or ()), leaf("task_id", 1)))
    assert not compile_conditions(failing).matches(EVENT, ROWS)
    any_failing = Condition(any_=(leaf("task_id", 1), leaf("project_id", "9")))
    assert not compile_conditions(any_failing).matches(EVENT, ROWS)


def test_explain_reports_every_test_with_the_value_it_saw() -> None:
    condition = Condition(
        any_=(
            Condition(field="task_id", equals=1),
            Condition(field="project.city", exists=True),
        )
    )
    report = compile_conditions(condition).explain(EVENT, ROWS)

    assert report.to_json() == {
        "any": [
            {
                "field": "task_id",
                "operator": "equals",
                "expected": 1,
                "seen": 456,
                "matched": False,
            },
            {
                "field": "project.city",
                "operator": "exists",
                "expected": True,
                "seen": None,
                "matched": False,
            },
        ],
        "matched": False,
    }
    assert report.lines() == [
        "any: not matched",
        "  [NO ] task_id equals 1 (saw 456)",
        "  [NO ] project.city exists True (saw (missing))",
    ]


def test_a_yaml_config_loads_and_matches(tmp_path: Path) -> None:
    holder = load(
        tmp_path,
        """
        conditions:
          all:
            - {field: project.state_province, in: [TX, OK]}
            - {field: task_status, equals: COMPLETED}
            - any:
                - {field: project.type_of_loss, equals: Hail}
                - {field: date_assigned, gte: 2024-04-01}
        """,
    )
    assert holder.conditions is not None
    assert compile_conditions(holder.conditions).matches(EVENT, ROWS)


def test_refused_configs_are_reported_at_their_line_with_a_suggestion(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        conditions:
          all:
            - field: task_statuss
              equals: COMPLETED
            - field: task_id
              prefix: "4"
            - field: project_id
              equals: "1"
              in: ["1"]
            - any:
                - field: task_id
                  equals: abc
                - field: task_name
                  equal: x
                - field: date_assigned
                  gt: yesterday
                - field: project.state_province
                  in: []
                - field: project.xa_autolink_fail
                  exists: maybe
                - field: task_name
            - all: []
        """,
    )
    assert found == [
        "3: config.conditions.all[0].field: unknown field 'task_statuss', did you mean "
        "'task_status' or 'task.status' or 'task_url'?",
        "6: config.conditions.all[1].prefix: operator 'prefix' does not fit 'task_id' (an integer "
        "field); operators for integer fields: anything_but, equals, exists, gt, gte, in, lt, "
        "lte, not_equals, not_in",
        "9: config.conditions.all[2].in: two operators in one test (equals, in): write one test "
        "per operator inside all:",
        "12: config.conditions.all[3].any[0].equals: equals: 'task_id' is an integer field: "
        "expected an integer, got the string 'abc'",
        "14: config.conditions.all[3].any[1].equal: unknown key 'equal', did you mean 'equals'?",
        "16: config.conditions.all[3].any[2].gt: gt: expected an ISO-8601 timestamp for "
        "'date_assigned' (e.g. 2024-05-01T12:00:00Z), got the string 'yesterday'",
        "18: config.conditions.all[3].any[3].in: in: expected a non-empty list, got an empty list",
        "20: config.conditions.all[3].any[4].exists: exists: expected true or false, got the "
        "string 'maybe'",
        "21: config.conditions.all[3].any[5].field: test of 'task_name' needs one operator: "
        "equals, not_equals, in, not_in, anything_but, exists, prefix, suffix, "
        "equals_ignore_case, gt, gte, lt, lte",
        "22: config.conditions.all[4].all: a group needs at least one condition",
    ]


def test_top_level_conditions_must_be_a_group(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        conditions:
          field: task_id
          equals: 456
        """,
    ) == [
        "1: config.conditions: conditions must be a group: start with all: or any: (a list of "
        "tests)"
    ]


def test_a_group_takes_one_of_all_and_any_and_no_test_keys(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        conditions:
          all: [{field: task_id, equals: 1}]
          any: [{field: task_id, equals: 2}]
        """,
    ) == ["3: config.conditions.any: a group has exactly one of all: / any:, not both"]
    assert problems(
        tmp_path,
        """
        conditions:
          all: [{field: task_id, equals: 1}]
          field: task_id
        """,
    ) == [
        "2: config.conditions.all: a group (all: / any:) holds conditions only: write the test "
        "as an item of its list"
    ]


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@given(
    field=st.sampled_from([*FIELDS, "nope", "project.nope"]),
    operator=st.sampled_from(["equals", "in", "anything_but", "exists", "prefix", "gte", "bad"]),
    value=SCALARS,
)
def test_any_test_either_loads_and_compiles_or_is_one_clear_problem(
    field: str, operator: str, value: Any
) -> None:
    """Parsing never crashes: a test is accepted (and then compiles and runs) or refused with
    a ConfigError whose every problem names a line and a key."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "config.yaml"
        path.write_text(
            "conditions:\n  all:\n    - "
            + json.dumps({"field": field, operator: value}, default=str)
            + "\n"
        )
        try:
            holder = load_config_file(path, Holder, env={}, key_prefix="config").value
        except ConfigError as error:
            refused = error.problems
        else:
            refused = ()
    if refused:
        assert all(problem.line is not None and problem.key for problem in refused)
        return
    assert holder.conditions is not None
    compiled = compile_condition(holder.conditions)
    assert isinstance(compiled.matches(EVENT, ROWS), bool)
    assert isinstance(compiled.explain(EVENT, ROWS).matched, bool)


NOT_FITTING = [
    (operator, field_type)
    for operator, types in OPERATORS.items()
    for field_type in FieldType
    if field_type not in types
]


@pytest.mark.parametrize(("operator", "field_type"), NOT_FITTING, ids=str)
def test_an_operator_that_does_not_fit_the_field_type_is_refused(
    tmp_path: Path, operator: str, field_type: FieldType
) -> None:
    field = SAMPLES[field_type][0]
    (problem,) = problems(
        tmp_path,
        f"""
        conditions:
          all:
            - field: {field}
              {operator}: "x"
        """,
    )
    assert problem.startswith(f"4: config.conditions.all[0].{operator}: operator '{operator}'")
    assert f"does not fit '{field}'" in problem


_FUSED_CASES = [
    ("task_name", "equals", st.text(max_size=4)),
    ("task_name", "prefix", st.text(max_size=4)),
    ("task_name", "in", st.lists(st.text(max_size=4), min_size=1, max_size=3)),
    ("task_name", "not_in", st.lists(st.text(max_size=4), min_size=1, max_size=3)),
    ("task_name", "anything_but", st.text(max_size=4)),
    ("assignee_id", "equals", st.integers(-3, 3)),
    ("assignee_id", "in", st.lists(st.integers(-3, 3), min_size=1, max_size=3)),
    ("project.square_footage", "not_in", st.lists(st.floats(-2, 2), min_size=1, max_size=3)),
    ("project.xa_autolink_fail", "equals", st.booleans()),
]


@given(
    case=st.sampled_from(range(len(_FUSED_CASES))).flatmap(
        lambda index: st.tuples(st.just(_FUSED_CASES[index]), _FUSED_CASES[index][2])
    ),
    seen=st.one_of(st.none(), st.text(max_size=4), st.integers(-3, 3), st.floats(-2, 2)),
)
def test_fused_tests_give_the_generic_path_s_verdict(
    case: tuple[tuple[str, str, Any], Any], seen: Any
) -> None:
    """The one-closure form of the common operators decides exactly as getter + predicate,
    a missing value (``None``) included."""
    (field, operator, _), value = case
    key = "in_" if operator == "in" else operator
    parts = condition_config.test_parts(Condition(field=field, **{key: value}))
    if FIELDS[field].type is FieldType.STRING and seen is not None:
        seen = str(seen)
    column = field.removeprefix("project.")
    if field.startswith("project."):
        rows = EntityRows(projects=(ProjectRow(project_id="1", **{column: seen}),))
    else:
        rows = EntityRows(
            tasks=(TaskRow(assignment_id=1, task_id=1, project_id="1", **{column: seen}),)
        )
    fused = _fused(parts)
    assert fused is not None
    assert fused(EVENT, rows) is _generic(parts)(EVENT, rows)
