"""The strict cattrs converter that structures configuration values into attrs classes.

- Detailed validation, and no unknown keys (structuring reports them with a suggestion).
- Strict types: ``"5"`` is accepted for an ``int`` so variables can fill numbers, but ``5`` is not
  a ``str``; a string or mapping is not a list; enum and ``Literal`` values name the choices.
- An attrs class with ``SHORTHAND: ClassVar[str] = "field"`` accepts a scalar wherever it is
  expected, structured as ``{"field": scalar}``.
- A field whose YAML key differs from its Python name (e.g. ``class``) declares it with
  ``attrs.field(metadata={CONFIG_KEY: "class"})``.

Wrong values raise :class:`~claimx_worker.config.problems.ConfigValueError` with the message the
problem report shows.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Callable, Mapping, MutableSequence, MutableSet, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Literal, NoReturn, get_args, get_origin

import attrs
from cattrs import Converter
from cattrs.cols import homogenous_tuple_structure_factory, list_structure_factory
from cattrs.gen import make_dict_structure_fn, override

from claimx_worker.config.problems import ConfigValueError

CONFIG_KEY = "config_key"
"""attrs field metadata key naming the YAML key of a field when it differs from the field name."""

_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEANS = {"true": True, "yes": True, "on": True, "1": True}
_BOOLEANS |= {"false": False, "no": False, "off": False, "0": False}
_SEQUENCE_ORIGINS: frozenset[Any] = frozenset(
    {list, tuple, set, frozenset, Sequence, MutableSequence, AbstractSet, MutableSet}
)


def new_config_converter() -> Converter:
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
