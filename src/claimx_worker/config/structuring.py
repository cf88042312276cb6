"""Structuring a YAML node or file into an attrs class, every problem at its file, line and key.

Variables are expanded first (:mod:`~claimx_worker.config.variables`), then the values are
structured with the strict converter (:mod:`~claimx_worker.config.converter`). Unknown keys (with
the nearest valid key suggested), wrong types, missing keys, bad enum or ``Literal`` values, and
errors raised by attrs validators or ``__attrs_post_init__`` (raise
:class:`~claimx_worker.config.problems.ConfigValueError`, or any ``ValueError``/``TypeError``)
are reported at the line of their class's key, or of the field's own key with
``ConfigValueError(..., key=...)``. A message names the variables a value came from instead of
quoting it, and is redacted with the secrets found while expanding (a validator may quote one).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import attrs
from attrs import field, frozen
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    StructureHandlerNotFoundError,
)
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from claimx_worker.config.converter import new_config_converter
from claimx_worker.config.keys import nearest_key, yaml_key
from claimx_worker.config.problems import (
    ConfigError,
    ConfigProblem,
    ConfigValueError,
    display_path,
)
from claimx_worker.config.variables import Expanded, KeyPath, expand_variables
from claimx_worker.config.yaml_files import load_yaml
from claimx_worker.observability.redaction import Redactor, count_of_secrets

T = TypeVar("T")

_ATTRS_VALIDATOR = re.compile(r"'(\w+)' must ")


@frozen
class LoadedConfig(Generic[T]):
    """A structured configuration value and the secret strings found while loading it; the
    repr shows neither (any value may have come from a variable)."""

    value: T = field(repr=lambda value: f"<{type(value).__name__}>")
    secrets: frozenset[str] = field(default=frozenset(), repr=count_of_secrets)


def load_config_file(
    path: Path, cls: type[T], *, env: Mapping[str, str], key_prefix: str = ""
) -> LoadedConfig[T]:
    """Read ``path`` and structure it into ``cls``; raises :class:`ConfigError` on any problem."""
    return structure_node(
        load_yaml(path), cls, file=display_path(path), key_prefix=key_prefix, env=env
    )


def structure_node(
    node: Any,
    cls: type[T],
    *,
    file: str,
    key_prefix: str,
    env: Mapping[str, str],
    exclude: Collection[str] = (),
    line: int | None = None,
) -> LoadedConfig[T]:
    """Structure an already-loaded ruamel node into ``cls`` (see the module docstring for rules).

    ``key_prefix`` starts every reported key path (``"config"`` gives ``config.triggers...``).
    ``exclude`` names top-level keys to leave out entirely (not expanded, not structured).
    ``line`` is where problems about the node as a whole are reported (e.g. the line of its
    key in the parent mapping); by default, the line the node starts on.
    ``None`` (an empty document) structures like an empty mapping.
    Raises :class:`ConfigError` with every problem found.
    """
    structurer = _Structurer(node, file=file, key_prefix=key_prefix, line=line)
    return structurer.run(cls, expand_variables(node, env=env, exclude=exclude))


class _Structurer:
    """One structuring run: structures the expanded data, maps errors back to lines."""

    def __init__(self, root: Any, *, file: str, key_prefix: str, line: int | None) -> None:
        self._root = root
        self._root_line = line if line is not None else _start_line(root)
        self._file = file
        self._prefix = key_prefix
        self._problems: list[ConfigProblem] = []
        self._reported: list[KeyPath] = []
        self._root_cls: type = object

    def run(self, cls: type[T], expanded: Expanded) -> LoadedConfig[T]:
        self._root_cls = cls
        for path, message in expanded.problems:
            self._add(path, message)
            self._reported.append(path)  # a variable problem explains everything below it
        value: Any = None
        try:
            value = new_config_converter(expanded.sources).structure(expanded.data, cls)
        except (ClassValidationError, IterableValidationError) as exc:
            self._collect(exc, ())
        except Exception as exc:  # a root-level error: report it, never a traceback
            self._add((), _describe_error(exc))
        if self._problems:  # a validator's message may quote a value: mask secrets
            raise ConfigError(self._problems).redacted(Redactor(expanded.secrets).redact)
        return LoadedConfig(value, expanded.secrets)

    def _collect(self, exc: BaseException, path: KeyPath) -> None:
        """Walk a cattrs detailed-validation error tree, adding one problem per leaf."""
        if isinstance(exc, ClassValidationError):
            # a shorthand scalar has no keys: its problems stay at its own key
            keyed = self._is_mapping(path)
            with_notes, without = exc.group_exceptions()
            for sub, note in with_notes:
                self._collect(sub, (*path, _yaml_key(exc.cl, note.name)) if keyed else path)
            for sub in without:  # raised by the class itself (validators, post-init)
                field = _refused_field(exc.cl, sub)
                if field is not None:
                    self._add((*path, _yaml_key(exc.cl, field)) if keyed else path, str(sub))
                else:
                    self._collect(sub, path)
        elif isinstance(exc, IterableValidationError):
            iterable_notes, others = exc.group_exceptions()
            for sub, iterable_note in iterable_notes:
                self._collect(sub, (*path, iterable_note.index))
            for sub in others:
                self._collect(sub, path)
        elif isinstance(exc, ForbiddenExtraKeysError):
            valid = _yaml_keys(exc.cl)
            for key in sorted(exc.extra_fields, key=str):
                self._add((*path, key), self._unknown_key_message(key, path, valid))
        else:
            self._add(path, _describe_error(exc))

    def _unknown_key_message(self, key: object, path: KeyPath, valid: Sequence[str]) -> str:
        """The nearest valid key as written beside ``key``, or its full path when elsewhere."""
        near = nearest_key(str(key), valid, path, self._root_cls)
        if near is None:
            return f"unknown key '{key}' (valid keys: {', '.join(valid) or 'none'})"
        shown = near[-1] if near[:-1] == path else self._locate(near)[0]
        return f"unknown key '{key}', did you mean '{shown}'?"

    def _add(self, path: KeyPath, message: str) -> None:
        if any(path[: len(done)] == done for done in self._reported):
            return  # a variable problem already explains this value
        key, line, _ = self._locate(path)
        self._problems.append(ConfigProblem(self._file, line, key, message))

    def _is_mapping(self, path: KeyPath) -> bool:
        """Whether the YAML value at ``path`` is a mapping."""
        return isinstance(self._locate(path)[2], CommentedMap)

    def _locate(self, path: KeyPath) -> tuple[str, int | None, Any]:
        return locate(self._root, path, prefix=self._prefix, line=self._root_line)


def locate(
    root: Any, path: KeyPath, *, prefix: str = "", line: int | None = None
) -> tuple[str, int | None, Any]:
    """For ``path`` below the ruamel node ``root``: the dotted key path (after ``prefix``), the
    best line (that of the deepest key that exists; ``line`` when none does) and the YAML value
    there (``None`` where the path leaves the file)."""
    node = root
    text = prefix
    for element in path:
        if isinstance(node, CommentedSeq) and isinstance(element, int):
            text += f"[{element}]"
            if 0 <= element < len(node):
                line = node.lc.item(element)[0] + 1
                node = node[element]
            else:
                node = None
            continue
        text = f"{text}.{element}" if text else str(element)
        if isinstance(node, CommentedMap) and element in node:
            line = _key_line(node, element) or line
            node = node[element]
        else:
            node = None
    return text, line, node


def _start_line(node: Any) -> int | None:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else None


def _key_line(node: CommentedMap, key: Hashable) -> int | None:
    try:
        position = node.lc.key(key)
    except KeyError:  # a key merged in with ``<<:`` has no position of its own
        return None
    return int(position[0]) + 1 if position is not None else None


def _refused_field(cls: type, exc: BaseException) -> str | None:
    """The field a class's validator refused: a ``ConfigValueError``'s ``key``, or the field an
    attrs validator names (its messages start ``'name' must ...``)."""
    if isinstance(exc, ConfigValueError):
        return exc.key
    match = _ATTRS_VALIDATOR.match(str(exc)) if isinstance(exc, ValueError | TypeError) else None
    fields = attrs.fields_dict(cls) if attrs.has(cls) else {}
    return match.group(1) if match is not None and match.group(1) in fields else None


def _yaml_key(cls: type, attribute: str) -> str:
    field = getattr(attrs.fields(cls), attribute, None) if attrs.has(cls) else None
    return yaml_key(field) if field is not None else attribute


def _yaml_keys(cls: type) -> list[str]:
    if not attrs.has(cls):
        return []
    return [yaml_key(a) for a in attrs.fields(cls) if a.init]


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return "required key is missing"
    if isinstance(exc, StructureHandlerNotFoundError):
        return f"the config class uses a type that cannot be read from YAML: {exc}"
    if isinstance(exc, ValueError | TypeError) and str(exc):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
