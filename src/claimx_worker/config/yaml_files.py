"""Reading one YAML file with its line numbers, every failure a :class:`ConfigError`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from claimx_worker.config.problems import ConfigError, ConfigProblem, display_path

MAX_VALUES = 100_000
"""How many values a file may hold once its aliases are followed (an alias bomb of a few
hundred bytes expands to millions)."""


def load_yaml(path: Path) -> Any:
    """Read one YAML file with ruamel round-trip loading (line numbers kept).

    Raises :class:`ConfigError` for an unreadable file, invalid YAML (with the line), or one
    holding more than :data:`MAX_VALUES` values once its aliases are followed.
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
        node = YAML(typ="rt").load(text)
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
    if _exceeds(node, MAX_VALUES):
        message = f"more than {MAX_VALUES:,} values once its aliases are followed (alias bomb?)"
        raise ConfigError([ConfigProblem(file, None, "", message)])
    return node


def _exceeds(node: Any, limit: int) -> bool:
    """Whether walking ``node`` the way the loader does visits more than ``limit`` values."""
    pending = [node]
    visited = 0
    while pending:
        visited += 1
        if visited > limit:
            return True
        item = pending.pop()
        if isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
