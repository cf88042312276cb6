"""``${VAR}`` expansion over a loaded YAML tree, and the secret values found on the way.

- ``${VAR}`` and ``${VAR:-default}`` are expanded in every string value (not in keys); the
  default applies when the variable is unset or empty; ``$${`` is a literal ``${``. An unset
  variable without a default is a problem naming the variable.
- Secret strings are collected for the log redactor (and the action DLQ's ``${VAR}``
  references): every value a variable puts into the file, except a default (it is written in
  the file, which holds no secret), a number or ``true``/``false`` (masking a port or a count
  would garble every number in the logs), and the value of a public variable
  (:data:`PUBLIC_VARIABLES`, or named in ``$CLAIMX_PUBLIC_VARIABLES``). A secret-looking key or
  variable name (:func:`~claimx_worker.observability.redaction.is_secret_key`) overrides those
  exceptions, and the whole string value under a secret-looking key is a secret too.
- Every string that took a variable's value is listed with the variables' names, so that a
  problem message can say where a value came from without quoting it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Hashable, Mapping
from typing import Any

from attrs import field, frozen
from ruamel.yaml.scalarbool import ScalarBoolean

from claimx_worker.observability.redaction import count_of_secrets, is_secret_key

PUBLIC_VARIABLES = frozenset(
    {
        "KAFKA_BOOTSTRAP_SERVERS",
        "CLAIMX_API_URL",
        "CLAIMX_API_BASE_URL",
        "PLUGINS_DIR",
        "METRICS_HOST",
        "METRICS_PORT",
        "LOG_LEVEL",
        "LOG_FORMAT",
    }
)
"""Variables whose values are not secrets (documented in docs/operating.md): the worker's own
short names but the API token, and ``CLAIMX_API_BASE_URL`` of the shipped settings file."""

PUBLIC_VARIABLES_ENV = "CLAIMX_PUBLIC_VARIABLES"
"""Names more public variables (separated by commas or spaces), e.g. ``TASK_TRIGGER_TOPIC``."""

_PLAIN_SCALAR = re.compile(r"[+-]?\d+(?:\.\d+)?|true|false", re.IGNORECASE)
_NAME_LIST_SEPARATOR = re.compile(r"[\s,]+")

_VARIABLE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME_AND_DEFAULT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)

KeyPath = tuple[Hashable, ...]
"""Where a value sits in the YAML tree: the mapping keys and list indexes from the root."""


@frozen
class Expanded:
    """A YAML tree as plain Python data with every variable expanded; ``problems`` are
    ``(key path, message)`` pairs in the order found; ``sources`` maps every string that took a
    variable's value to the variables' names."""

    data: Any = field(repr=False)
    secrets: frozenset[str] = field(repr=count_of_secrets)
    problems: tuple[tuple[KeyPath, str], ...]
    sources: Mapping[str, tuple[str, ...]] = field(repr=False)


def expand_variables(
    root: Any, *, env: Mapping[str, str], exclude: Collection[str] = ()
) -> Expanded:
    """Plain data from a ruamel node with variables expanded from ``env``.

    ``exclude`` names top-level keys to leave out entirely; ``None`` (an empty document) gives an
    empty mapping.
    """
    expander = _Expander(env)
    data: Any
    if root is None:
        data = {}
    elif isinstance(root, Mapping):
        data = {
            _plain_key(key): expander.plain(value, (_plain_key(key),), key)
            for key, value in root.items()
            if key not in exclude
        }
    else:
        data = expander.plain(root, (), None)
    return Expanded(
        data, frozenset(expander.secrets), tuple(expander.problems), dict(expander.sources)
    )


def _plain_key(key: Any) -> Any:
    if isinstance(key, str):
        return str(key)
    if isinstance(key, int) and not isinstance(key, bool | ScalarBoolean):
        return int(key)
    return key


class _Expander:
    """One expansion run: walks the tree, collecting secrets and problems."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        declared = _NAME_LIST_SEPARATOR.split(env.get(PUBLIC_VARIABLES_ENV, "").strip())
        self._public = PUBLIC_VARIABLES | {name for name in declared if name}
        self.secrets: set[str] = set()
        self.problems: list[tuple[KeyPath, str]] = []
        self.sources: dict[str, tuple[str, ...]] = {}

    def plain(self, node: Any, path: KeyPath, key: Hashable | None) -> Any:
        """Plain Python data from a ruamel node, with variables expanded in strings."""
        if isinstance(node, Mapping):
            return {
                _plain_key(k): self.plain(v, (*path, _plain_key(k)), k) for k, v in node.items()
            }
        if isinstance(node, list):
            return [self.plain(item, (*path, index), key) for index, item in enumerate(node)]
        if isinstance(node, str):
            return self._expand(str(node), path, key)
        if isinstance(node, bool | ScalarBoolean):
            return bool(node)
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        return node

    def _expand(self, text: str, path: KeyPath, key: Hashable | None) -> str:
        secret_place = isinstance(key, str) and is_secret_key(key)
        if "$" in text:
            names: list[str] = []
            text = _VARIABLE.sub(
                lambda match: self._substitute(match, path, secret_place, names), text
            )
            if names:
                self.sources.setdefault(text, tuple(dict.fromkeys(names)))
        if secret_place and text:
            self.secrets.add(text)
        return text

    def _substitute(
        self, match: re.Match[str], path: KeyPath, secret_place: bool, names: list[str]
    ) -> str:
        whole, inner = match.group(0), match.group(1)
        if whole == "$${":
            return "${"
        if inner is None:
            return self._problem(path, "unterminated '${' (write '$${' for a literal '${')")
        parts = _NAME_AND_DEFAULT.fullmatch(inner)
        if parts is None:
            return self._problem(path, f"invalid variable reference '{whole}'")
        name, default = parts.group(1), parts.group(2)
        value = self._env.get(name)
        from_default = not value and default is not None
        if from_default:
            value = default
        if value is None:
            return self._problem(
                path, f"environment variable '{name}' is not set and has no default"
            )
        names.append(name)
        plain = from_default or name in self._public or _PLAIN_SCALAR.fullmatch(value)
        if value and (secret_place or is_secret_key(name) or not plain):
            self.secrets.add(value)
        return value

    def _problem(self, path: KeyPath, message: str) -> str:
        self.problems.append((path, message))
        return ""


def referenced_variables(root: Any) -> frozenset[str]:
    """The names of the variables a ruamel node's string values refer to (``$${`` is not one)."""
    names: set[str] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, Mapping):
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, str) and "${" in node:
            for match in _VARIABLE.finditer(node):
                parts = _NAME_AND_DEFAULT.fullmatch(match.group(1) or "")
                if parts is not None:
                    names.add(parts.group(1))
    return frozenset(names)
