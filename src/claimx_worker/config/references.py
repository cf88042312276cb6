"""Config fields that name a connection, and finding them in a structured config.

A plugin's config class marks such a field with :func:`connection_field`; the plugin host then
refuses, at load, a name no connection file defines (at its file and line, with suggestions).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from typing import Any

import attrs

from claimx_worker.config.keys import yaml_key

CONNECTION_REFERENCE = "claimx_connection_reference"
"""attrs field metadata key marking a field that holds a connection name."""


def connection_field() -> Any:
    """An attrs field (default ``None``) holding the name of a connection; checked at load."""
    return attrs.field(default=None, metadata={CONNECTION_REFERENCE: True})


def connection_references(
    value: Any, path: tuple[Hashable, ...] = ()
) -> Iterator[tuple[tuple[Hashable, ...], str]]:
    """Every ``(key path, connection name)`` in a structured config value."""
    if attrs.has(type(value)):
        for attribute in attrs.fields(type(value)):
            item = getattr(value, attribute.name)
            here = (*path, yaml_key(attribute))
            if attribute.metadata.get(CONNECTION_REFERENCE) and isinstance(item, str):
                yield here, item
            else:
                yield from connection_references(item, here)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from connection_references(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from connection_references(item, (*path, index))
