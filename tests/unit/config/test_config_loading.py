"""The generic YAML config loader: lines, variables, structuring rules and problem reports."""

from __future__ import annotations

import enum
import secrets
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs
import pytest

from claimx_worker.config.converter import CONFIG_KEY
from claimx_worker.config.problems import ConfigError, ConfigProblem, ConfigValueError
from claimx_worker.config.structuring import load_config_file, structure_node
from claimx_worker.config.variables import PUBLIC_VARIABLES_ENV
from claimx_worker.config.yaml_files import load_yaml


class Color(enum.StrEnum):
    RED = "red"
    GREEN = "green"


@attrs.frozen(kw_only=True)
class Publish:
    SHORTHAND: ClassVar[str] = "topic"
    topic: str
    key: str | None = None


@attrs.frozen(kw_only=True)
class Hook:
    url: str
    headers: Mapping[str, str] = attrs.field(factory=dict)
    signing_secret: str | None = None


@attrs.frozen(kw_only=True)
class Trigger:
    name: str
    on_completed: Publish | None = None
    on_assigned: Publish | None = None
    webhook: Hook | None = None
    level: Literal["info", "warning"] = "info"

    def __attrs_post_init__(self) -> None:
        if self.name.startswith("_"):
            raise ConfigValueError(f"trigger names may not start with '_': {self.name!r}")


@attrs.frozen(kw_only=True)
class Settings:
    triggers: dict[int, Trigger] = attrs.field(factory=dict)
    tags: tuple[str, ...] = ()
    retries: int = 3
    ratio: float = 1.0
    enabled: bool = True
    color: Color = Color.RED
    klass: str = attrs.field(default="x", metadata={CONFIG_KEY: "class"})


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def problems(path: Path, cls: type = Settings, env: Mapping[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config_file(path, cls, env=env or {}, key_prefix="config")
    return [str(problem) for problem in info.value.problems]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_valid_file_structures_every_rule(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        triggers:
          "456":
            name: ${NAME:-inspection}
            on_completed: claimx.done
            on_assigned: {topic: claimx.assigned, key: "${KEY}"}
          789:
            name: other
            webhook:
              url: https://example.test/hook
              headers: {Authorization: "Bearer ${HOOK_TOKEN}"}
              signing_secret: $${not_a_var}
        tags: [a, b]
        retries: "${RETRIES}"
        ratio: 2
        enabled: "false"
        color: green
        class: my.Class
        """,
    )
    env = {"KEY": "project", "HOOK_TOKEN": "s3cr3t", "RETRIES": "5"}
    loaded = load_config_file(path, Settings, env=env)
    value = loaded.value
    assert set(value.triggers) == {456, 789}
    assert value.triggers[456] == Trigger(
        name="inspection",
        on_completed=Publish(topic="claimx.done"),
        on_assigned=Publish(topic="claimx.assigned", key="project"),
    )
    hook = value.triggers[789].webhook
    assert hook == Hook(
        url="https://example.test/hook",
        headers={"Authorization": "Bearer s3cr3t"},
        signing_secret="${not_a_var}",
    )
    assert (value.tags, value.retries, value.ratio, value.enabled) == (("a", "b"), 5, 2.0, False)
    assert (value.color, value.klass) == (Color.GREEN, "my.Class")
    # every variable's value but a number and a default; every string under a secret key
    assert loaded.secrets == frozenset({"project", "s3cr3t", "Bearer s3cr3t", "${not_a_var}"})


def test_unknown_key_suggests_the_nearest_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        triggers:
          456:
            name: inspection
            on_complete: claimx.done
        """,
    )
    assert problems(path) == [
        "config.yaml:4: config.triggers.456.on_complete: unknown key 'on_complete', "
        "did you mean 'on_completed'?"
    ]


@attrs.frozen(kw_only=True)
class Group:
    consumer_group: str = "g"
    klass: str = attrs.field(default="x", metadata={CONFIG_KEY: "class"})


@attrs.frozen(kw_only=True)
class Cluster:
    consumer: dict[str, str] = attrs.field(factory=dict)
    group: Group = attrs.field(factory=Group)
    others: dict[str, Group] = attrs.field(factory=dict)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "consumer_group: g\n",
            "config.yaml:1: config.consumer_group: unknown key 'consumer_group', "
            "did you mean 'config.group.consumer_group'?",
        ),
        (
            "consumer_grup: g\n",
            "config.yaml:1: config.consumer_grup: unknown key 'consumer_grup', "
            "did you mean 'config.group.consumer_group'?",
        ),
        (
            "consumr: {}\n",
            "config.yaml:1: config.consumr: unknown key 'consumr', did you mean 'consumer'?",
        ),
        (
            "others: {a: {consumer_grup: g}}\n",
            "config.yaml:1: config.others.a.consumer_grup: unknown key 'consumer_grup', "
            "did you mean 'consumer_group'?",
        ),
        (
            "group: {klas: y}\n",
            "config.yaml:1: config.group.klas: unknown key 'klas', did you mean 'class'?",
        ),
    ],
)
def test_unknown_key_suggests_the_nearest_valid_full_path(
    tmp_path: Path, text: str, problem: str
) -> None:
    assert problems(write(tmp_path, text), Cluster) == [problem]


@attrs.frozen(kw_only=True)
class Bounded:
    retries: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    ratio: float = attrs.field(default=1.0, validator=attrs.validators.le(1))


def test_an_attrs_validator_problem_is_reported_at_its_field(tmp_path: Path) -> None:
    path = write(tmp_path, "ratio: 0.5\nretries: -1\n")
    assert problems(path, Bounded) == ["config.yaml:2: config.retries: 'retries' must be >= 0: -1"]


def test_unknown_key_without_a_near_match_lists_the_valid_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "zzz: 1\n")
    assert problems(path) == [
        "config.yaml:1: config.zzz: unknown key 'zzz' (valid keys: triggers, tags, retries, "
        "ratio, enabled, color, class)"
    ]


def test_every_problem_is_reported_at_once_in_line_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        retries: many
        tags: abc
        triggers:
          x12:
            name: ok
          12:
            level: loud
        color: blue
        ratio: [1]
        enabled: maybe
        """,
    )
    assert problems(path) == [
        "config.yaml:1: config.retries: expected an integer, got the string 'many'",
        "config.yaml:2: config.tags: expected a list, got the string 'abc'",
        "config.yaml:4: config.triggers.x12: expected an integer, got the string 'x12'",
        "config.yaml:6: config.triggers.12.name: required key is missing",
        "config.yaml:7: config.triggers.12.level: expected one of 'info', 'warning', "
        "got the string 'loud'",
        "config.yaml:8: config.color: expected one of 'red', 'green', got the string 'blue'",
        "config.yaml:9: config.ratio: expected a number, got a list",
        "config.yaml:10: config.enabled: expected true or false, got the string 'maybe'",
    ]


def test_a_bad_key_is_reported_with_the_problems_of_its_value(tmp_path: Path) -> None:
    """cattrs checks a mapping's key only once its value structured: both are reported here."""
    path = write(
        tmp_path,
        """
        triggers:
          x12:
            name: ok
            level: loud
          y13: {}
        """,
    )
    assert problems(path) == [
        "config.yaml:2: config.triggers.x12: expected an integer, got the string 'x12'",
        "config.yaml:4: config.triggers.x12.level: expected one of 'info', 'warning', "
        "got the string 'loud'",
        "config.yaml:5: config.triggers.y13: expected an integer, got the string 'y13'",
        "config.yaml:5: config.triggers.y13.name: required key is missing",
    ]


def test_strings_are_strict_and_scalars_are_not_mappings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        tags: [a, 5]
        triggers:
          1:
            name: true
            webhook: https://no-shorthand.test
        """,
    )
    assert problems(path) == [
        "config.yaml:1: config.tags[1]: expected a string, got an integer (5)",
        "config.yaml:4: config.triggers.1.name: expected a string, got a boolean (true)",
        "config.yaml:5: config.triggers.1.webhook: expected a mapping, "
        "got the string 'https://no-shorthand.test'",
    ]


def test_validator_errors_are_reported_at_their_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        triggers:
          1:
            name: _hidden
        """,
    )
    assert problems(path) == [
        "config.yaml:2: config.triggers.1: trigger names may not start with '_': '_hidden'"
    ]


def _check_not_blank(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.strip():
        raise ConfigValueError("must not be blank", key=attribute.name)


@attrs.frozen(kw_only=True)
class Route:
    SHORTHAND: ClassVar[str] = "to"
    to: str = attrs.field(validator=_check_not_blank)
    via: str = attrs.field(default="x", validator=_check_not_blank, metadata={CONFIG_KEY: "by"})


@attrs.frozen(kw_only=True)
class Routes:
    routes: dict[str, Route]


def test_a_keyed_validator_error_is_reported_at_the_field_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        routes:
          a:
            to: x
            by: " "
          b: {to: ""}
          c: "  "
        """,
    )
    assert problems(path, Routes) == [
        "config.yaml:4: config.routes.a.by: must not be blank",
        "config.yaml:5: config.routes.b.to: must not be blank",
        "config.yaml:6: config.routes.c: must not be blank",  # shorthand: no key of its own
    ]


def test_a_shorthand_value_of_the_wrong_type_is_reported_at_its_own_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        routes:
          a: 5
          b: {to: 6}
        """,
    )
    assert problems(path, Routes) == [
        "config.yaml:2: config.routes.a: expected a string, got an integer (5)",
        "config.yaml:3: config.routes.b.to: expected a string, got an integer (6)",
    ]


def test_unset_variable_is_one_problem_naming_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        retries: ${RETRIES}
        triggers:
          1:
            name: "x-${SUFFIX}-${DEFINED}"
        """,
    )
    assert problems(path, env={"DEFINED": "d"}) == [
        "config.yaml:1: config.retries: environment variable 'RETRIES' is not set "
        "and has no default",
        "config.yaml:4: config.triggers.1.name: environment variable 'SUFFIX' is not set "
        "and has no default",
    ]


def test_bad_variable_syntax(tmp_path: Path) -> None:
    path = write(tmp_path, 'tags: ["${1BAD}", "${OPEN"]\n')
    assert problems(path) == [
        "config.yaml:1: config.tags[0]: invalid variable reference '${1BAD}'",
        "config.yaml:1: config.tags[1]: unterminated '${' (write '$${' for a literal '${')",
    ]


def test_empty_variable_takes_the_default_and_set_empty_stays_empty() -> None:
    node = load_yaml_text("tags: ['${A:-fallback}', '${B}']")
    loaded = structure_node(node, Settings, file="f.yaml", key_prefix="", env={"A": "", "B": ""})
    assert loaded.value.tags == ("fallback", "")


def test_secret_named_variable_is_recorded_wherever_it_is_used() -> None:
    node = load_yaml_text("tags: ['${API_TOKEN}', '${PLAIN}']")
    env = {"API_TOKEN": "t0k", "PLAIN": "p", PUBLIC_VARIABLES_ENV: "PLAIN API_TOKEN"}
    loaded = structure_node(node, Settings, file="f.yaml", key_prefix="", env=env)
    assert loaded.secrets == frozenset({"t0k"})


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "retries: 1\ntags: [a, b\nratio: 2\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.key) == ("config.yaml", 3, "")
    assert problem.message == (
        "invalid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence at line 2)"
    )


def test_duplicate_yaml_key_is_invalid_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "retries: 1\nretries: 2\n")
    assert problems(path) == [
        'config.yaml:2: invalid YAML: found duplicate key "retries" with value "2" '
        '(original value: "1") (while constructing a mapping at line 1)'
    ]


def test_missing_file_is_a_problem(tmp_path: Path) -> None:
    assert problems(tmp_path / "absent.yaml") == [
        "absent.yaml: cannot read the file: No such file or directory"
    ]


def test_empty_document_uses_defaults(tmp_path: Path) -> None:
    assert load_config_file(write(tmp_path, ""), Settings, env={}).value == Settings()


def test_root_must_be_a_mapping(tmp_path: Path) -> None:
    assert problems(write(tmp_path, "- a\n- b\n")) == [
        "config.yaml:1: config: expected a mapping, got a list"
    ]


def test_problems_about_the_whole_node_use_the_given_line() -> None:
    node = load_yaml_text("triggers: {}\nconfig:\n  zzz: 1\n")["config"]
    with pytest.raises(ConfigError) as info:
        structure_node(node, Trigger, file="f", key_prefix="config", env={}, line=2)
    assert [str(p) for p in info.value.problems] == [
        "f:2: config.name: required key is missing",
        "f:3: config.zzz: unknown key 'zzz' (valid keys: name, on_completed, on_assigned, "
        "webhook, level)",
    ]


def test_exclude_leaves_keys_out() -> None:
    node = load_yaml_text("retries: 2\nconfig: {anything: [goes]}\n")
    loaded = structure_node(node, Settings, file="f", key_prefix="", env={}, exclude={"config"})
    assert loaded.value.retries == 2


def test_sequences_and_sets() -> None:
    @attrs.frozen
    class Lists:
        seq: Sequence[int] = ()
        items: list[str] = attrs.field(factory=list)
        unique: frozenset[str] = frozenset()

    node = load_yaml_text("seq: [1, '2']\nitems: [x]\nunique: [a, a, b]\n")
    loaded = structure_node(node, Lists, file="f", key_prefix="", env={})
    assert loaded.value == Lists(seq=(1, 2), items=["x"], unique=frozenset({"a", "b"}))


def test_problem_and_error_rendering() -> None:
    with_line = ConfigProblem("a.yaml", 3, "config.x", "bad")
    without = ConfigProblem("b.yaml", None, "", "unreadable")
    error = ConfigError([without, with_line])
    assert str(error) == "a.yaml:3: config.x: bad\nb.yaml: unreadable"


def load_yaml_text(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="rt").load(text)


def test_secrets_never_appear_in_problem_messages(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        triggers:
          1:
            name: ok
            webhook:
              url: https://example.test
              headers: {Authorization: "${TOKEN}"}
        tags: ["${TOKEN}", 5]
        retries: "${TOKEN}"
        """,
    )
    reported = problems(path, env={"TOKEN": "hunter22"})
    assert reported == [
        "config.yaml:7: config.tags[1]: expected a string, got an integer (5)",
        "config.yaml:8: config.retries: expected an integer, got a string from ${TOKEN} "
        "(value hidden)",
    ]


def test_problem_messages_name_the_variable_instead_of_quoting_its_value(tmp_path: Path) -> None:
    token = secrets.token_hex(40)  # longer than the 57 characters a message quotes
    path = write(
        tmp_path,
        """
        retries: "${TOKEN}"
        color: "${COLOR}"
        tags: "${TOKEN}-${COLOR}"
        triggers:
          1: {name: x, on_completed: ["${TOKEN}"], level: "${UNSET:-loud}"}
        """,
    )
    reported = problems(path, env={"TOKEN": token, "COLOR": "blue"})
    assert reported == [
        "config.yaml:1: config.retries: expected an integer, got a string from ${TOKEN} "
        "(value hidden)",
        "config.yaml:2: config.color: expected one of 'red', 'green', got a string from "
        "${COLOR} (value hidden)",
        "config.yaml:3: config.tags: expected a list, got a string from ${TOKEN}, ${COLOR} "
        "(value hidden)",
        "config.yaml:5: config.triggers.1.on_completed: expected a mapping, got a list",
        "config.yaml:5: config.triggers.1.level: expected one of 'info', 'warning', got a "
        "string from ${UNSET} (value hidden)",
    ]
    assert not any(token[:8] in line or token[-8:] in line for line in reported)
