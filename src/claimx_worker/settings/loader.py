"""Generic YAML configuration loading: line numbers, ``${VAR}`` expansion, structuring, problems.

One job: turn a YAML file (or an already-loaded ruamel node) into an attrs instance, or fail with
*every* problem at once, each as ``file:line: key.path: message``.

Rules, in the order they apply:

- Files are read with ruamel.yaml round-trip loading, which keeps line numbers; invalid YAML is a
  problem at the line of the parse error.
- ``${VAR}`` and ``${VAR:-default}`` are expanded in every string value (not in keys) before
  structuring; the default applies when the variable is unset or empty; ``$${`` is a literal
  ``${``. An unset variable without a default is a problem naming the variable.
- Values are structured with cattrs into the target attrs class with detailed validation:
  unknown keys (with the nearest valid key suggested), wrong types (strict: ``"5"`` is accepted
  for an ``int`` so variables can fill numbers, but ``5`` is not a ``str``), missing keys, bad
  enum or ``Literal`` values, and errors raised by attrs validators or ``__attrs_post_init__``
  (raise :class:`ConfigValueError`, or any ``ValueError``/``TypeError``) are reported at the
  line of their class's key, or of the field's own key with ``ConfigValueError(..., key=...)``.
- An attrs class with ``SHORTHAND: ClassVar[str] = "field"`` accepts a scalar wherever it is
  expected, structured as ``{"field": scalar}``.
- A field whose YAML key differs from its Python name (e.g. ``class``) declares it with
  ``attrs.field(metadata={CONFIG_KEY: "class"})``.
- Secret strings are collected for the log redactor: every string value under a key that looks
  secret (authorization, token, secret, password, api key, signature, credential) and the value
  of every variable expanded there or whose own name looks secret.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import (
    Callable,
    Collection,
    Hashable,
    Iterable,
    Mapping,
    MutableSequence,
    MutableSet,
    Sequence,
)
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any, Generic, Literal, NoReturn, TypeVar, get_args, get_origin

import attrs
from attrs import frozen
from cattrs import Converter
from cattrs.cols import homogenous_tuple_structure_factory, list_structure_factory
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    StructureHandlerNotFoundError,
)
from cattrs.gen import make_dict_structure_fn, override
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from claimx_worker.observability.redaction import Redactor

T = TypeVar("T")

CONFIG_KEY = "config_key"
"""attrs field metadata key naming the YAML key of a field when it differs from the field name."""

SECRET_KEY_PATTERN = re.compile(
    r"authorization|token|secret|passw(?:or)?d|credential|api[_-]?key|signature", re.IGNORECASE
)
"""Keys (and variable names) whose values are secrets, matched anywhere, case-insensitively."""

_VARIABLE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME_AND_DEFAULT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)
_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEANS = {"true": True, "yes": True, "on": True, "1": True}
_BOOLEANS |= {"false": False, "no": False, "off": False, "0": False}
_SEQUENCE_ORIGINS: frozenset[Any] = frozenset(
    {list, tuple, set, frozenset, Sequence, MutableSequence, AbstractSet, MutableSet}
)

Path_ = tuple[Hashable, ...]


class ConfigValueError(ValueError):
    """Raise from a config class's validators or ``__attrs_post_init__`` to report a problem.

    The message is reported at the file and line of the mapping being structured; with ``key``
    (a field of that class, e.g. ``attribute.name`` in a validator) at that field's own key.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


@frozen
class ConfigProblem:
    """One configuration problem; ``str()`` gives ``file:line: key: message``."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    """Configuration is invalid; ``problems`` holds every problem found, in file and line order."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = tuple(
            sorted(problems, key=lambda p: (p.file, p.line if p.line is not None else 0))
        )
        super().__init__("\n".join(str(problem) for problem in self.problems))


@frozen
class LoadedConfig(Generic[T]):
    """A structured configuration value and the secret strings found while loading it."""

    value: T
    secrets: frozenset[str] = frozenset()


def display_path(path: Path) -> str:
    """``path`` as shown in problems: relative to the working directory when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_yaml(path: Path) -> Any:
    """Read one YAML file with ruamel round-trip loading (line numbers kept).

    Raises :class:`ConfigError` for an unreadable file or invalid YAML (with the line).
    """
    file = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            [ConfigProblem(file, None, "", f"cannot read the file: {reason}")]
        ) from None
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        detail = exc.problem or exc.context or "unreadable"
        if exc.problem and exc.context:
            where = f" at line {exc.context_mark.line + 1}" if exc.context_mark else ""
            detail = f"{exc.problem} ({exc.context}{where})"
        raise ConfigError([ConfigProblem(file, line, "", f"invalid YAML: {detail}")]) from None
    except YAMLError as exc:
        raise ConfigError([ConfigProblem(file, None, "", f"invalid YAML: {exc}")]) from None


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
    structurer = _Structurer(node, file=file, key_prefix=key_prefix, env=env, line=line)
    return structurer.run(cls, exclude)


class _Structurer:
    """One structuring run: expands variables, structures, maps errors back to lines."""

    def __init__(
        self, root: Any, *, file: str, key_prefix: str, env: Mapping[str, str], line: int | None
    ) -> None:
        self._root = root
        self._root_line = line if line is not None else _start_line(root)
        self._file = file
        self._prefix = key_prefix
        self._env = env
        self._problems: list[ConfigProblem] = []
        self._reported: list[Path_] = []
        self._secrets: set[str] = set()

    def run(self, cls: type[T], exclude: Collection[str]) -> LoadedConfig[T]:
        if self._root is None:
            plain: Any = {}
        elif isinstance(self._root, Mapping):
            plain = {
                _plain_key(key): self._plain(value, (_plain_key(key),), key)
                for key, value in self._root.items()
                if key not in exclude
            }
        else:
            plain = self._plain(self._root, (), None)
        value: Any = None
        try:
            value = _new_converter().structure(plain, cls)
        except (ClassValidationError, IterableValidationError) as exc:
            self._collect(exc, ())
        except Exception as exc:  # a root-level error: report it, never a traceback
            self._add((), _describe_error(exc))
        if self._problems:
            redactor = Redactor(self._secrets)  # a message may quote a value: mask secrets
            raise ConfigError(
                attrs.evolve(problem, message=redactor.redact(problem.message))
                for problem in self._problems
            )
        return LoadedConfig(value, frozenset(self._secrets))

    # --- variable expansion -------------------------------------------------------------------

    def _plain(self, node: Any, path: Path_, key: Hashable | None) -> Any:
        """Plain Python data from a ruamel node, with variables expanded in strings."""
        if isinstance(node, Mapping):
            return {
                _plain_key(k): self._plain(v, (*path, _plain_key(k)), k) for k, v in node.items()
            }
        if isinstance(node, list):
            return [self._plain(item, (*path, index), key) for index, item in enumerate(node)]
        if isinstance(node, str):
            return self._expand(str(node), path, key)
        if isinstance(node, bool | ScalarBoolean):
            return bool(node)
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        return node

    def _expand(self, text: str, path: Path_, key: Hashable | None) -> str:
        secret_place = isinstance(key, str) and SECRET_KEY_PATTERN.search(key) is not None
        if "$" in text:
            text = _VARIABLE.sub(lambda match: self._substitute(match, path, secret_place), text)
        if secret_place and text:
            self._secrets.add(text)
        return text

    def _substitute(self, match: re.Match[str], path: Path_, secret_place: bool) -> str:
        whole, inner = match.group(0), match.group(1)
        if whole == "$${":
            return "${"
        if inner is None:
            return self._variable_problem(
                path, "unterminated '${' (write '$${' for a literal '${')"
            )
        parts = _NAME_AND_DEFAULT.fullmatch(inner)
        if parts is None:
            return self._variable_problem(path, f"invalid variable reference '{whole}'")
        name, default = parts.group(1), parts.group(2)
        value = self._env.get(name)
        if not value and default is not None:
            value = default
        if value is None:
            return self._variable_problem(
                path, f"environment variable '{name}' is not set and has no default"
            )
        if value and (secret_place or SECRET_KEY_PATTERN.search(name)):
            self._secrets.add(value)
        return value

    def _variable_problem(self, path: Path_, message: str) -> str:
        self._add(path, message)
        self._reported.append(path)
        return ""

    # --- structuring errors -------------------------------------------------------------------

    def _collect(self, exc: BaseException, path: Path_) -> None:
        """Walk a cattrs detailed-validation error tree, adding one problem per leaf."""
        if isinstance(exc, ClassValidationError):
            with_notes, without = exc.group_exceptions()
            for sub, note in with_notes:
                self._collect(sub, (*path, _yaml_key(exc.cl, note.name)))
            for sub in without:  # raised by the class itself (validators, post-init)
                if isinstance(sub, ConfigValueError) and sub.key is not None:
                    field_path = (*path, _yaml_key(exc.cl, sub.key))
                    # a shorthand scalar has no keys: its problem stays at its own key
                    self._add(field_path if self._is_mapping(path) else path, str(sub))
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
                self._add((*path, key), _unknown_key_message(key, valid))
        else:
            self._add(path, _describe_error(exc))

    def _add(self, path: Path_, message: str) -> None:
        if any(path[: len(done)] == done for done in self._reported):
            return  # a variable problem already explains this value
        key, line, _ = self._locate(path)
        self._problems.append(ConfigProblem(self._file, line, key, message))

    def _is_mapping(self, path: Path_) -> bool:
        """Whether the YAML value at ``path`` is a mapping."""
        return isinstance(self._locate(path)[2], CommentedMap)

    def _locate(self, path: Path_) -> tuple[str, int | None, Any]:
        """The dotted key path, the best line for ``path`` (the deepest key that exists) and
        the YAML value there (``None`` where the path leaves the file)."""
        node = self._root
        line = self._root_line
        text = self._prefix
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


def _plain_key(key: Any) -> Any:
    if isinstance(key, str):
        return str(key)
    if isinstance(key, int) and not isinstance(key, bool | ScalarBoolean):
        return int(key)
    return key


def _yaml_key(cls: type, attribute: str) -> str:
    field = getattr(attrs.fields(cls), attribute, None) if attrs.has(cls) else None
    return str(field.metadata.get(CONFIG_KEY, attribute)) if field is not None else attribute


def _yaml_keys(cls: type) -> list[str]:
    if not attrs.has(cls):
        return []
    return [str(a.metadata.get(CONFIG_KEY, a.name)) for a in attrs.fields(cls) if a.init]


def _unknown_key_message(key: object, valid: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(key), valid, n=1)
    if close:
        return f"unknown key '{key}', did you mean '{close[0]}'?"
    return f"unknown key '{key}' (valid keys: {', '.join(valid) or 'none'})"


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return "required key is missing"
    if isinstance(exc, StructureHandlerNotFoundError):
        return f"the config class uses a type that cannot be read from YAML: {exc}"
    if isinstance(exc, ValueError | TypeError) and str(exc):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _describe_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"the string {shown!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _expected(what: str, value: object) -> NoReturn:
    raise ConfigValueError(f"expected {what}, got {_describe_value(value)}")


# --- the converter ----------------------------------------------------------------------------


def _new_converter() -> Converter:
    """A strict cattrs converter for configuration (detailed validation, no extra keys)."""
    converter = Converter(detailed_validation=True, forbid_extra_keys=True)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(enum.Enum, _structure_enum)
    converter.register_structure_hook_factory(_is_literal, _literal_hook)
    converter.register_structure_hook_factory(_is_collection, _collection_hook)
    converter.register_structure_hook_factory(_is_mapping, _mapping_hook)
    converter.register_structure_hook_factory(attrs.has, _attrs_hook)
    return converter


def _structure_str(value: object, tp: type) -> str:
    if issubclass(tp, enum.Enum):  # StrEnum and (str, Enum) dispatch here
        return _structure_enum(value, tp)  # type: ignore[return-value]
    if not isinstance(value, str):
        _expected("a string", value)
    return value


def _structure_int(value: object, tp: type) -> int:
    if issubclass(tp, enum.Enum):  # IntEnum and (int, Enum) dispatch here
        return _structure_enum(value, tp)  # type: ignore[return-value]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    _expected("an integer", value)


def _structure_float(value: object, _: type) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    _expected("a number", value)


def _structure_bool(value: object, _: type) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    _expected("true or false", value)


def _one_of(choices: Sequence[object], value: object) -> NoReturn:
    shown = ", ".join(repr(choice) for choice in choices)
    close = difflib.get_close_matches(str(value), [str(choice) for choice in choices], n=1)
    hint = f", did you mean '{close[0]}'?" if close else ""
    raise ConfigValueError(f"expected one of {shown}, got {_describe_value(value)}{hint}")


def _structure_enum(value: object, tp: type[enum.Enum]) -> enum.Enum:
    try:
        return tp(value)
    except ValueError:
        _one_of([member.value for member in tp], value)


def _is_literal(tp: Any) -> bool:
    return get_origin(tp) is Literal


def _literal_hook(tp: Any) -> Callable[[object, type], object]:
    choices = get_args(tp)

    def structure(value: object, _: type) -> object:
        if value in choices and not isinstance(value, bool):
            return value
        _one_of(choices, value)

    return structure


def _is_collection(tp: Any) -> bool:
    origin = get_origin(tp) or tp
    if origin is tuple:
        args = get_args(tp)
        return len(args) == 2 and args[1] is Ellipsis
    return origin in _SEQUENCE_ORIGINS


def _collection_hook(tp: Any, converter: Converter) -> Callable[[object, type], object]:
    """Lists, homogeneous tuples, sequences and sets; a string or mapping is not a list."""
    origin = get_origin(tp) or tp
    element = (get_args(tp) or (Any,))[0]
    finish: Callable[[Any], object] | None = None
    if origin in (tuple, Sequence):
        build = homogenous_tuple_structure_factory(tuple[element, ...], converter)  # type: ignore[valid-type]
    else:
        build = list_structure_factory(list[element], converter)  # type: ignore[valid-type]
        if origin in (set, MutableSet):
            finish = set
        elif origin in (frozenset, AbstractSet):
            finish = frozenset

    def structure(value: object, _: type) -> object:
        if not isinstance(value, list):
            _expected("a list", value)
        result = build(value, tp)
        return finish(result) if finish is not None else result

    return structure


def _is_mapping(tp: Any) -> bool:
    return (get_origin(tp) or tp) in (dict, Mapping)


def _mapping_hook(tp: Any, converter: Converter) -> Callable[[object, type], object]:
    build = converter.gen_structure_mapping(tp)

    def structure(value: object, _: type) -> object:
        if not isinstance(value, Mapping):
            _expected("a mapping", value)
        return build(value, tp)

    return structure


def _attrs_hook(tp: Any, converter: Converter) -> Callable[[object, type], object]:
    """attrs classes: renamed keys (``CONFIG_KEY``), unknown keys refused, ``SHORTHAND`` scalars."""
    cls = get_origin(tp) or tp
    renames: dict[str, Any] = {
        a.name: override(rename=a.metadata[CONFIG_KEY])
        for a in attrs.fields(cls)
        if CONFIG_KEY in a.metadata
    }
    build = make_dict_structure_fn(tp, converter, **renames)
    shorthand: str | None = getattr(cls, "SHORTHAND", None)

    def structure(value: object, _: type) -> object:
        if not isinstance(value, Mapping):
            if shorthand is None or value is None or isinstance(value, list):
                _expected("a mapping", value)
            value = {shorthand: value}
        return build(value, tp)

    return structure
