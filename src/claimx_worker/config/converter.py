"""The strict cattrs converter that structures configuration values into attrs classes.

- Detailed validation, and no unknown keys (structuring reports them with a suggestion).
- Strict types: ``"5"`` is accepted for an ``int`` so variables can fill numbers, but ``5`` is not
  a ``str``; a string or mapping is not a list; enum and ``Literal`` values name the choices.
- An attrs class with ``SHORTHAND: ClassVar[str] = "field"`` accepts a scalar wherever it is
  expected, structured as ``{"field": scalar}``.
- A field whose YAML key differs from its Python name (e.g. ``class``) declares it with
  ``attrs.field(metadata={CONFIG_KEY: "class"})``.
- Every failing attrs validator of a class is reported, not only the first one its ``__init__``
  raises (see :func:`_every_refusal`).

Wrong values raise :class:`~claimx_worker.config.problems.ConfigValueError` with the message the
problem report shows; a string that came from ``${VAR}`` is named by its variables, never quoted.
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
from cattrs.errors import ClassValidationError, IterableValidationError, IterableValidationNote
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


def new_config_converter(sources: Mapping[str, tuple[str, ...]] | None = None) -> Converter:
    """A strict cattrs converter for configuration (detailed validation, no extra keys).

    ``sources`` maps the strings that took a variable's value to the variables' names: a
    problem message names the variables instead of quoting such a string.
    """
    hooks = _Hooks(sources or {})
    converter = Converter(detailed_validation=True, forbid_extra_keys=True)
    converter.register_structure_hook(str, hooks.structure_str)
    converter.register_structure_hook(int, hooks.structure_int)
    converter.register_structure_hook(float, hooks.structure_float)
    converter.register_structure_hook(bool, hooks.structure_bool)
    converter.register_structure_hook(enum.Enum, hooks.structure_enum)
    converter.register_structure_hook_factory(_is_literal, hooks.literal_hook)
    converter.register_structure_hook_factory(_is_collection, hooks.collection_hook)
    converter.register_structure_hook_factory(_is_mapping, hooks.mapping_hook)
    converter.register_structure_hook_factory(attrs.has, hooks.attrs_hook)
    return converter


def _is_literal(tp: Any) -> bool:
    return get_origin(tp) is Literal


def _is_collection(tp: Any) -> bool:
    origin = get_origin(tp) or tp
    if origin is tuple:
        args = get_args(tp)
        return len(args) == 2 and args[1] is Ellipsis
    return origin in _SEQUENCE_ORIGINS


def _is_mapping(tp: Any) -> bool:
    return (get_origin(tp) or tp) in (dict, Mapping)


class _Hooks:
    """The converter's structure hooks; their messages never quote a string from ``sources``."""

    def __init__(self, sources: Mapping[str, tuple[str, ...]]) -> None:
        self._sources = sources

    def describe(self, value: object) -> str:
        """``value`` as a problem message shows it."""
        if value is None:
            return "null"
        if isinstance(value, bool):
            return f"a boolean ({str(value).lower()})"
        if isinstance(value, int):
            return f"an integer ({value})"
        if isinstance(value, float):
            return f"a number ({value})"
        if isinstance(value, str):
            names = self._sources.get(value)
            if names:
                variables = ", ".join("${" + name + "}" for name in names)
                return f"a string from {variables} (value hidden)"
            shown = value if len(value) <= 60 else value[:57] + "..."
            return f"the string {shown!r}"
        if isinstance(value, Mapping):
            return "a mapping"
        if isinstance(value, list):
            return "a list"
        return type(value).__name__

    def expected(self, what: str, value: object) -> NoReturn:
        raise ConfigValueError(f"expected {what}, got {self.describe(value)}")

    def one_of(self, choices: Sequence[object], value: object) -> NoReturn:
        shown = ", ".join(repr(choice) for choice in choices)
        close = difflib.get_close_matches(str(value), [str(choice) for choice in choices], n=1)
        hint = f", did you mean '{close[0]}'?" if close else ""
        raise ConfigValueError(f"expected one of {shown}, got {self.describe(value)}{hint}")

    def structure_str(self, value: object, tp: type) -> str:
        if issubclass(tp, enum.Enum):  # StrEnum and (str, Enum) dispatch here
            return self.structure_enum(value, tp)  # type: ignore[return-value]
        if not isinstance(value, str):
            self.expected("a string", value)
        return value

    def structure_int(self, value: object, tp: type) -> int:
        if issubclass(tp, enum.Enum):  # IntEnum and (int, Enum) dispatch here
            return self.structure_enum(value, tp)  # type: ignore[return-value]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            return int(value)
        self.expected("an integer", value)

    def structure_float(self, value: object, _: type) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        self.expected("a number", value)

    def structure_bool(self, value: object, _: type) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
            return _BOOLEANS[value.strip().lower()]
        self.expected("true or false", value)

    def structure_enum(self, value: object, tp: type[enum.Enum]) -> enum.Enum:
        try:
            return tp(value)
        except ValueError:
            self.one_of([member.value for member in tp], value)

    def literal_hook(self, tp: Any) -> Callable[[object, type], object]:
        choices = get_args(tp)

        def structure(value: object, _: type) -> object:
            if value in choices and not isinstance(value, bool):
                return value
            self.one_of(choices, value)

        return structure

    def collection_hook(self, tp: Any, converter: Converter) -> Callable[[object, type], object]:
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
                self.expected("a list", value)
            result = build(value, tp)
            return finish(result) if finish is not None else result

        return structure

    def mapping_hook(self, tp: Any, converter: Converter) -> Callable[[object, type], object]:
        """Mappings: a key is checked even when its value fails (cattrs checks it only after)."""
        build = converter.gen_structure_mapping(tp)
        key_type = (get_args(tp) or (Any,))[0]

        def structure(value: object, _: type) -> object:
            if not isinstance(value, Mapping):
                self.expected("a mapping", value)
            try:
                return build(value, tp)
            except IterableValidationError as error:
                raise _with_key_errors(error, converter, key_type) from None

        return structure

    def attrs_hook(self, tp: Any, converter: Converter) -> Callable[[object, type], object]:
        """attrs classes: renamed keys (``CONFIG_KEY``), unknown keys refused, ``SHORTHAND``
        scalars."""
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
                    self.expected("a mapping", value)
                value = {shorthand: value}
            try:
                return build(value, tp)
            except ClassValidationError as error:
                raise _every_refusal(error, lambda: build(value, tp)) from None

        return structure


def _with_key_errors(
    error: IterableValidationError, converter: Converter, key_type: Any
) -> IterableValidationError:
    """``error`` with, before each value error, the error of its key when the key is wrong
    too."""
    errors: list[Exception] = []
    for sub in error.exceptions:
        for note in getattr(sub, "__notes__", ()):
            if isinstance(note, IterableValidationNote) and note.startswith(
                "Structuring mapping value"
            ):
                try:
                    converter.structure(note.index, key_type)
                except Exception as key_error:
                    key_note = f"Structuring mapping key @ key {note.index!r}"
                    key_error.__notes__ = [IterableValidationNote(key_note, note.index, key_type)]
                    errors.append(key_error)
        errors.append(sub)
    return IterableValidationError(error.message, errors, error.cl)


def _every_refusal(error: ClassValidationError, build: Callable[[], object]) -> Exception:
    """``error``, or, when the class's ``__init__`` refused values its validators check, one
    error per failing validator.

    attrs stops at the first validator that raises. When every field structured (the only
    exception is the constructor's), the instance is built again with validators disabled and
    each field's validator runs on its own. Should that build fail too (``__attrs_post_init__``
    cannot cope with the unvalidated values), ``error`` is returned unchanged.
    """
    if len(error.exceptions) != 1 or getattr(error.exceptions[0], "__notes__", None):
        return error  # field problems (each with its note): already complete
    previously = attrs.validators.get_disabled()
    attrs.validators.set_disabled(True)
    try:
        instance = build()
    except Exception:
        return error
    finally:
        attrs.validators.set_disabled(previously)
    refusals: list[Exception] = []
    for attribute in attrs.fields(error.cl):
        if attribute.validator is None:
            continue
        try:
            attribute.validator(instance, attribute, getattr(instance, attribute.name))
        except Exception as refusal:
            refusals.append(refusal)
    if not refusals:
        return error  # __attrs_post_init__ refused: its one message says it all
    return ClassValidationError(error.message, refusals, error.cl)
