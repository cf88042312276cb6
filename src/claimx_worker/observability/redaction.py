"""Secret redaction: mask registered secret values and credential-looking text with ``***``."""

from __future__ import annotations

import functools
import json
import re
import threading
import urllib.parse
from collections.abc import Iterable, Mapping

MASK = "***"

#: Shorter values are not registered: masking them would shred ordinary text.
MIN_SECRET_LENGTH = 4

_SECRET_KEY_PARTS = (
    "authorization",
    "token",
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "signature",
    "cookie",
)

# Credentials recognisable by their shape, whatever the registered secrets are:
# ``Authorization: Basic <x>`` / ``'authorization': 'Bearer <x>'`` (scheme optional), ``scheme://user:<x>@host``,
# and ``<secret-looking key>=<x>`` in free text.
_CREDENTIAL_PATTERN = re.compile(
    r"(?P<auth>(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?:(?i:basic|bearer|digest|token)\s+)?)"
    r"[^\s\"',;]+"
    r"|(?P<userinfo>://[^/\s:@]+:)[^/\s@]+(?=@)"
    r"|(?P<kv>\b[\w.-]*(?i:" + "|".join(_SECRET_KEY_PARTS) + r")[\w.-]*=)[^\s&\"',;)\]}]+"
)


def _mask_credential(match: re.Match[str]) -> str:
    return (match.group("auth") or match.group("userinfo") or match.group("kv")) + MASK


@functools.lru_cache(maxsize=1024)
def is_secret_key(key: str) -> bool:
    """Whether a field named ``key`` holds a secret (``Authorization``, ``api-key``, ...)."""
    normalized = key.lower().replace("-", "_")
    return any(part in normalized for part in _SECRET_KEY_PARTS)


def _variants(secret: str) -> set[str]:
    """The forms a secret takes in output: raw, JSON-escaped, Python-repr'd, percent-encoded."""
    return {
        secret,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        urllib.parse.quote(secret, ""),
    }


class Redactor:
    """Masks secret values in text and structured log fields.

    Secrets are registered at start (and later, from any thread) with :meth:`add`. Reads never
    lock: every :meth:`add` publishes a new compiled pattern in one reference swap.
    """

    __slots__ = ("_lock", "_pattern", "_secrets")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secrets>)"

    def add(self, *secrets: str) -> None:
        """Register secret values; empty and very short values are ignored."""
        fresh = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        if not fresh:
            return
        with self._lock:
            known = self._secrets | fresh
            if known == self._secrets:
                return
            forms: set[str] = set().union(*(_variants(s) for s in known))
            alternation = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
            self._secrets = known
            self._pattern = re.compile(alternation)

    def redact(self, text: str) -> str:
        """Return ``text`` with every registered secret and credential-looking value masked."""
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        return _CREDENTIAL_PATTERN.sub(_mask_credential, text)

    def scrub(self, key: str, value: object) -> object:
        """Return a field value safe to log: masked whole under a secret-looking key, else
        recursively redacted (strings, mappings, lists, tuples); numbers, bools and ``None`` pass;
        other objects become their redacted ``str()``."""
        if is_secret_key(key):
            return MASK
        if isinstance(value, str):
            return self.redact(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, Mapping):
            return {str(k): self.scrub(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.scrub("", v) for v in value]
        return self.redact(str(value))
