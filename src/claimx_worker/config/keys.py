"""The keys of a configuration class, and the nearest valid key for an unknown one.

:func:`config_keys` lists every field of an attrs class and of the attrs classes nested in it,
by YAML key path (mappings and lists of classes are not entered: their keys are the user's).
:func:`nearest_key` is what the loader suggests for an unknown key: a close key beside it, or the
full path of the key of that name (or a closer one) elsewhere in the class.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Iterator, Sequence
from typing import Any, get_type_hints

import attrs
from attrs import frozen

from claimx_worker.config.converter import CONFIG_KEY

_CUTOFF = 0.6
"""The least similarity (``difflib`` ratio) of a suggested key, as ``get_close_matches``."""


@frozen
class ConfigKey:
    """One field of a configuration class: its YAML key path from the root, the attribute and
    its resolved type. A *section* is a field whose type is itself an attrs class."""

    path: tuple[str, ...]
    attribute: attrs.Attribute[Any]
    type: Any

    @property
    def is_section(self) -> bool:
        """Whether the field holds a nested attrs class (whose keys are listed after it)."""
        return isinstance(self.type, type) and attrs.has(self.type)


def yaml_key(attribute: attrs.Attribute[Any]) -> str:
    """The YAML key of a field: its ``CONFIG_KEY`` metadata, else its name."""
    return str(attribute.metadata.get(CONFIG_KEY, attribute.name))


def config_keys(cls: type, prefix: tuple[str, ...] = ()) -> Iterator[ConfigKey]:
    """Every field of ``cls`` in declaration order, a section followed by its own keys."""
    hints = get_type_hints(cls)
    for attribute in attrs.fields(cls):
        if not attribute.init:
            continue
        key = ConfigKey((*prefix, yaml_key(attribute)), attribute, hints[attribute.name])
        yield key
        if key.is_section:
            yield from config_keys(key.type, key.path)


def nearest_key(
    key: str, siblings: Sequence[str], parent: tuple[Hashable, ...], root: type
) -> tuple[Hashable, ...] | None:
    """The valid key path to suggest for unknown ``key`` found at ``parent`` below ``root``.

    ``siblings`` are the valid keys at ``parent``. A key of the same name elsewhere in ``root``
    wins (the nearest to ``parent`` first); else the most similar of the siblings and of the
    keys elsewhere, a sibling on a tie; ``None`` when nothing is similar enough.
    """
    elsewhere = [
        found.path
        for found in (config_keys(root) if attrs.has(root) else ())
        if found.path[:-1] != parent
    ]
    same_name = [path for path in elsewhere if path[-1] == key]
    if same_name:
        return max(same_name, key=lambda path: (_shared(path, parent), -len(path)))
    best: tuple[Hashable, ...] | None = None
    best_ratio = _CUTOFF
    for path in [(*parent, sibling) for sibling in siblings] + elsewhere:
        ratio = difflib.SequenceMatcher(None, key, str(path[-1])).ratio()
        if ratio > best_ratio or (best is None and ratio == best_ratio):
            best, best_ratio = path, ratio
    return best


def _shared(path: tuple[str, ...], parent: tuple[Hashable, ...]) -> int:
    """How many leading keys ``path`` and ``parent`` have in common."""
    count = 0
    for mine, theirs in zip(path, parent, strict=False):
        if mine != theirs:
            break
        count += 1
    return count
