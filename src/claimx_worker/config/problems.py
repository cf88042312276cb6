"""Configuration problems: each one a :class:`ConfigProblem`, together a :class:`ConfigError`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import attrs
from attrs import frozen

from claimx_worker.errors import ClaimXWorkerError


class ConfigValueError(ClaimXWorkerError, ValueError):
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


class ConfigError(ClaimXWorkerError):
    """Configuration is invalid; ``problems`` holds every problem found, in file and line order."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = tuple(
            sorted(problems, key=lambda p: (p.file, p.line if p.line is not None else 0))
        )
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def redacted(self, redact: Callable[[str], str]) -> ConfigError:
        """The same problems, each message passed through ``redact`` (e.g.
        :meth:`~claimx_worker.observability.redaction.Redactor.redact`)."""
        return ConfigError(attrs.evolve(p, message=redact(p.message)) for p in self.problems)


def display_path(path: Path) -> str:
    """``path`` as shown in problems: relative to the working directory when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
