"""Keeping secrets out of action DLQ records, and putting them back on replay.

A registered secret value (``secret_refs``: value -> environment variable name) is replaced by
its ``${VAR}`` reference wherever it occurs, and every other ``$`` is written ``$$``, so text
from event data (``${WEBHOOK_TOKEN}`` in a task name) can never pass for a reference; replay
restores the references from the current environment and ``$$`` to ``$``. A secret-looking
header (``Authorization``, ``X-Api-Key``, ``Cookie``, ``*token*``, ``*secret*``,
``*signature*``, ...) whose value holds no registered secret is replaced by ``***`` and cannot
be restored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from claimx_worker.errors import ClaimXWorkerError
from claimx_worker.observability.redaction import MASK, MIN_SECRET_LENGTH, is_secret_key

_REFERENCE_OR_DOLLARS = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DOLLAR = re.compile(r"\$")


class MissingSecretError(ClaimXWorkerError, LookupError):
    """A record refers to an environment variable that is not set now."""

    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is not set")
        self.name = name


def secret_refs_from_environ(secrets: Iterable[str], environ: Mapping[str, str]) -> dict[str, str]:
    """Map secret values to the environment variables holding them: every variable with a
    secret-looking name (``WEBHOOK_TOKEN``, ``SIGNING_SECRET``, ...) and every variable whose
    value is one of ``secrets`` (e.g. the config loader's). Values shorter than
    ``MIN_SECRET_LENGTH`` are left out, as in log redaction."""
    known = frozenset(secrets)
    refs: dict[str, str] = {}
    for name, value in sorted(environ.items()):
        if len(value) < MIN_SECRET_LENGTH or value in refs:
            continue
        if value in known or is_secret_key(name):
            refs[value] = name
    return refs


class SecretScrubber:
    """Replaces registered secret values by ``${VAR}`` references (and back)."""

    __slots__ = ("_names", "_pattern")

    def __init__(self, secret_refs: Mapping[str, str]) -> None:
        self._names: dict[str, str] = {}
        self._pattern = _DOLLAR
        self.add(secret_refs)

    def add(self, secret_refs: Mapping[str, str]) -> None:
        """Register more secret values (value -> variable name); empty values are ignored."""
        fresh = {value: name for value, name in secret_refs.items() if value}
        if fresh.items() <= self._names.items():
            return
        self._names |= fresh
        ordered = sorted(self._names, key=len, reverse=True)
        self._pattern = re.compile("|".join([*map(re.escape, ordered), _DOLLAR.pattern]))

    def __repr__(self) -> str:
        return f"SecretScrubber(<{len(self._names)} secrets>)"

    def name_of(self, value: str | None) -> str | None:
        """The variable holding exactly this secret, if registered."""
        return self._names.get(value) if value else None

    def text(self, text: str, used: set[str]) -> str:
        """``text`` with every registered secret replaced by its reference and every other
        ``$`` doubled; adds the variable names it used to ``used``."""
        if "$" not in text and not self._names:
            return text

        def reference(match: re.Match[str]) -> str:
            name = self._names.get(match.group())
            if name is None:
                return "$$"
            used.add(name)
            return "${" + name + "}"

        return self._pattern.sub(reference, text)

    def data(self, value: Any, used: set[str]) -> Any:
        """JSON-able ``value`` with secrets replaced in every string (keys included)."""
        if isinstance(value, str):
            return self.text(value, used)
        if isinstance(value, Mapping):
            return {self.text(str(k), used): self.data(v, used) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v, used) for v in value]
        return value

    def headers(
        self, headers: Mapping[str, str], used: set[str], masked: list[str]
    ) -> dict[str, str]:
        """Headers with registered secrets referenced; other secret-looking values become
        ``***`` and their names are appended to ``masked``."""
        clean: dict[str, str] = {}
        for name, value in headers.items():
            found: set[str] = set()
            text = self.text(value, found)
            if is_secret_key(name) and not found:
                masked.append(name)
                text = MASK
            used |= found
            clean[name] = text
        return clean


def restore(value: Any, names: Iterable[str], environ: Mapping[str, str]) -> Any:
    """Undo :meth:`SecretScrubber.data` for the variables ``names``, from ``environ``; raises
    :class:`MissingSecretError` for one that is not set. ``$$`` becomes ``$``; other ``${...}``
    references are left alone."""
    wanted = frozenset(names)
    for name in sorted(wanted):
        if name not in environ:
            raise MissingSecretError(name)

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        return environ[name] if name in wanted else match.group()

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return _REFERENCE_OR_DOLLARS.sub(substitute, item) if "$" in item else item
        if isinstance(item, Mapping):
            return {walk(k): walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    return walk(value)
