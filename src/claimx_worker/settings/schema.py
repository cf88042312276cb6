"""Every setting of :class:`~claimx_worker.settings.worker.WorkerSettings`: its key, type, default
and description, read from the settings classes and their attribute docstrings.

The reference (``docs/settings.md``), the file ``config init`` writes, ``config show`` and the
checks of environment variables and options all take the settings from here.
"""

from __future__ import annotations

import ast
import enum
import functools
import inspect
import itertools
import re
import textwrap
import types
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin, get_type_hints

from attrs import frozen

from claimx_worker.config.keys import config_keys
from claimx_worker.settings.worker import WorkerSettings

ENV_PREFIX = "CLAIMX_WORKER_"
"""Every setting can be set by the variable ``CLAIMX_WORKER_`` + its key path, ``__`` between
keys, in upper case (see :func:`env_name`)."""
ENV_SEPARATOR = "__"

_ROLE = re.compile(r":[\w:]+:`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")
_SENTENCE_END = re.compile(r"(?<!e\.g\.)(?<!i\.e\.)(?<=\.)\s+(?=[A-Z`])")


@frozen
class Setting:
    """One key of the settings: a setting, or a section (a settings class) holding settings."""

    key: str
    """The dotted key path, e.g. ``kafka.bootstrap_servers``."""
    type: Any
    default: object
    """The value of a default ``WorkerSettings`` (a section's: its default settings object)."""
    description: str
    """The attribute docstring as one paragraph of Markdown."""
    is_section: bool = False

    @property
    def summary(self) -> str:
        """The first sentence of the description."""
        return _SENTENCE_END.split(self.description, maxsplit=1)[0]

    @property
    def name(self) -> str:
        """The last key of the path."""
        return self.key.rpartition(".")[2]

    @property
    def section(self) -> str:
        """The key of the section holding this key (``""``: the top level)."""
        return self.key.rpartition(".")[0]

    @property
    def depth(self) -> int:
        """How many sections hold this key."""
        return self.key.count(".")


@frozen
class Section:
    """A section with settings of its own (not only sections), and its description."""

    key: str
    description: str
    settings: tuple[Setting, ...]


def env_name(key: str) -> str:
    """The environment variable of a setting: ``kafka.bootstrap_servers`` gives
    ``CLAIMX_WORKER_KAFKA__BOOTSTRAP_SERVERS``."""
    return ENV_PREFIX + ENV_SEPARATOR.join(key.upper().split("."))


@functools.cache
def all_keys() -> tuple[Setting, ...]:
    """Every section and setting, depth first in the order of the settings classes (the
    order of a settings file)."""
    defaults = WorkerSettings()
    return tuple(
        Setting(
            key=".".join(key.path),
            type=key.type,
            default=value_at(defaults, key.path),
            description=_attribute_docs(_class_at(key.path[:-1])).get(key.attribute.name, ""),
            is_section=key.is_section,
        )
        for key in config_keys(WorkerSettings)
    )


@functools.cache
def setting_keys() -> tuple[Setting, ...]:
    """Every setting (no section), in the order of the settings classes."""
    return tuple(key for key in all_keys() if not key.is_section)


@functools.cache
def sections() -> tuple[Section, ...]:
    """The sections holding settings, in order, each with its description."""
    found = []
    for section in (key for key in all_keys() if key.is_section):
        members = tuple(s for s in setting_keys() if s.section == section.key)
        if members:
            found.append(Section(section.key, section.description, members))
    return tuple(found)


def describe_type(tp: Any) -> str:
    """A reader's name of a setting's type: ``integer``, ``list of strings``, ``one of: a, b``."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        others = [arg for arg in get_args(tp) if arg is not type(None)]
        return " or ".join(describe_type(arg) for arg in others) + " or null"
    if origin in (tuple, list):
        return f"list of {describe_type(get_args(tp)[0])}s"
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return "mapping"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of: " + ", ".join(str(member.value) for member in tp)
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def markdown(docstring: str) -> str:
    """A docstring as one paragraph of Markdown: reST roles and literals as code spans."""
    text = _LITERAL.sub(r"`\1`", _ROLE.sub(r"`\1`", docstring))
    return " ".join(text.split())


def _class_at(path: tuple[str, ...]) -> type:
    """The settings class of the section at ``path`` (``()``: the root)."""
    cls: type = WorkerSettings
    for name in path:
        cls = get_type_hints(cls)[name]
    return cls


def value_at(value: Any, path: tuple[str, ...]) -> object:
    """The value at key ``path`` of a settings object."""
    for name in path:
        value = getattr(value, name)
    return value


@functools.cache
def _attribute_docs(cls: type) -> dict[str, str]:
    """Attribute name -> its docstring (the string literal right after the annotated field)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for statement, following in itertools.pairwise(body):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[statement.target.id] = markdown(inspect.cleandoc(following.value.value))
    return docs
