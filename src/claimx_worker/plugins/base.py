"""The base class of plugin classes."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

ConfigT = TypeVar("ConfigT")


class Plugin(Generic[ConfigT]):
    """Base class for a plugin: hook implementations are its methods marked ``@hookimpl``.

    ``config_class`` is the attrs class the instance's ``config:`` mapping is structured into
    (``None``: the plugin takes no config). The host creates one object per configured instance
    with ``cls()``, so one class can back many instances; each object receives its own config in
    ``on_load(config=..., instance_name=...)`` and in every ``context.config``.

    Subclassing is a convenience: any class with a no-argument constructor, an optional
    ``config_class`` attribute and ``@hookimpl`` methods works the same way.
    """

    config_class: ClassVar[type[Any] | None] = None
