"""The one place that reads loguru internals: whether loguru's handlers changed, and the lowest
level any of them takes.

loguru has no public way to list its handlers. Its logger keeps them in ``logger._core.handlers``,
a dict it replaces, never mutates, on every ``add`` and ``remove``: the same object means the
same handlers. This holds for :data:`SUPPORTED_LOGURU` (the range ``pyproject.toml`` requires,
pinned by ``tests/unit/observability/test_loguru_adapter.py``). Where the attribute is missing,
:func:`handler_table` returns ``None`` and callers take loguru's public path.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

SUPPORTED_LOGURU = ">=0.7,<0.8"
"""The loguru releases whose internals :func:`handler_table` reads."""


def handler_table() -> object | None:
    """Loguru's handler table: the same object (``is``) until a handler is added or removed;
    ``None`` when this loguru does not have one where expected."""
    return getattr(getattr(logger, "_core", None), "handlers", None)


def _core() -> Any:
    core = getattr(logger, "_core", None)
    return core if isinstance(getattr(core, "min_level", None), (int, float)) else None


CORE: Any = _core()
"""Loguru's core, the same object for the process's life: its ``min_level`` is the lowest level
number any handler takes (``inf`` without handlers), updated on every ``add`` and ``remove``
(loguru's own early exit in every log call). ``None`` when this loguru has no such thing."""
