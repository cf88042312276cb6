"""Secret redaction: mask registered secret values and credential-looking text with ``***``."""

from __future__ import annotations

import functools
import json
import re
import threading
import urllib.parse
from collections.abc import Collection, Iterable, Mapping

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
    "subscription_key",
    "functions_key",
    "access_key",
    "private_key",
    "credential",
    "account_key",  # delta-rs storage options: AZURE_STORAGE_ACCOUNT_KEY, GOOGLE_..._KEY
    "sas_key",
)

# Credentials recognisable by their shape, whatever the registered secrets are:
# ``Authorization: Basic <x>`` (scheme optional; also ``'authorization': 'Bearer <x>'``),
# ``scheme://user:<x>@host``, and ``<secret-looking key>=<x>`` in free text. Each pattern runs
# only when a cheap substring test says it can match: most lines pay two ``in`` tests.
_AUTH_HEADER = re.compile(
    r"(authorization[\"']?\s*[:=]\s*[\"']?(?:(?:basic|bearer|digest|token)\s+)?)[^\s\"',;]+",
    re.IGNORECASE,
)
_USERINFO = re.compile(r"(://[^/\s:@]+:)[^/\s@]+(?=@)")
_KEY_VALUE = re.compile(r"(?<![\w.-])([\w.-]+)=[^\s&\"',;)\]}]+")
# ``Header-Name: value`` (a hyphenated name) and ``"key": value`` (a quoted one); a bare
# ``name: text`` is prose or a key path in an error message, not a credential.
_KEY_COLON = re.compile(
    r"(?<![\w.-])(\w+(?:-\w+)+|[\"'][\w.-]+[\"'])(\s*:\s*[\"']?)[^\s\"',;)\]}]+"
)
# Query parameters that carry credentials in URLs (Azure Functions ``code``, SAS ``sig``).
_QUERY_CREDENTIAL = re.compile(r"([?&](?:code|sig|key)=)[^\s&#\"',;)\]}]+", re.IGNORECASE)
# Substrings of every secret key part (``-`` or ``_`` inside): a line holding none of them,
# most lines, pays only these ``in`` tests.
_KEY_HINTS = (
    "auth", "token", "secret", "passw", "api", "signature", "cookie", "subscription",
    "functions", "access", "private", "credential", "account", "sas",
)  # fmt: skip
_SCALARS = (str, bool, int, float)
_MEMO_SIZE = 1024
_MEMO_MAX_TEXT = 1024


def _mask_key_value(match: re.Match[str]) -> str:
    key = match.group(1)
    if not is_secret_key(key) or key.lower().endswith("authorization"):  # see _AUTH_HEADER
        return match.group(0)
    return f"{key}={MASK}"


def _mask_key_colon(match: re.Match[str]) -> str:
    key = match.group(1).strip("\"'")
    if not is_secret_key(key) or key.lower().endswith("authorization"):  # see _AUTH_HEADER
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}{MASK}"


def _mask_credentials(text: str) -> str:
    if "://" in text:
        if "@" in text:
            text = _USERINFO.sub(rf"\1{MASK}", text)
        if "?" in text:
            text = _QUERY_CREDENTIAL.sub(rf"\1{MASK}", text)
    lowered = text.lower()
    for hint in _KEY_HINTS:  # a loop: any() over a generator costs twice as much
        if hint in lowered:
            break
    else:
        return text
    text = _AUTH_HEADER.sub(rf"\1{MASK}", text)
    if ":" in text:
        text = _KEY_COLON.sub(_mask_key_colon, text)
    return _KEY_VALUE.sub(_mask_key_value, text)


@functools.lru_cache(maxsize=1024)
def is_secret_key(key: str) -> bool:
    """Whether a field named ``key`` holds a secret (``Authorization``, ``api-key``, ...).

    The one word list for secret-looking names: the log redactor, the config loader (keys and
    variable names) and the action DLQ all ask here."""
    normalized = key.lower().replace("-", "_")
    return any(part in normalized for part in _SECRET_KEY_PARTS)


def count_of_secrets(secrets: Collection[str]) -> str:
    """What a repr shows for a collection of secret values: how many, never which."""
    return f"<{len(secrets)} secrets>"


def _variants(secret: str) -> set[str]:
    """The forms a secret takes in output: raw, Python-repr'd (exception messages, containers),
    JSON-escaped (of both), percent-encoded. Plain tokens have a single form."""
    quoted = repr(secret)[1:-1]
    return {
        secret,
        quoted,
        _json_escaped(secret),
        _json_escaped(quoted),
        urllib.parse.quote(secret, ""),
    }


def _json_escaped(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


class Redactor:
    """Masks registered secret values and credential-looking text with ``***``.

    Secrets are registered at start (and later, from any thread) with :meth:`add`. Reads never
    lock: every :meth:`add` publishes a new compiled pattern, with an empty memo of redacted
    texts, in one reference swap. The memo serves lines that repeat word for word (the task
    trigger's "matched" line, for one); it is bounded and emptied when full.
    """

    __slots__ = ("_lock", "_secrets", "_state")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._state: tuple[re.Pattern[str] | None, dict[str, str]] = (None, {})
        self.add(*secrets)

    def __repr__(self) -> str:
        return f"Redactor({count_of_secrets(self._secrets)})"

    @property
    def secrets(self) -> frozenset[str]:
        """The registered secret values."""
        return self._secrets

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
            self._state = (re.compile(alternation), {})

    def redact(self, text: str) -> str:
        """Return ``text`` with every registered secret and credential-looking value masked."""
        pattern, memo = self._state
        masked = memo.get(text)
        if masked is None:
            masked = _mask_credentials(text if pattern is None else pattern.sub(MASK, text))
            if len(text) <= _MEMO_MAX_TEXT:
                if len(memo) >= _MEMO_SIZE:
                    memo.clear()
                memo[text] = masked
        return masked


def scrub_field(key: str, value: object) -> object:
    """A structured field made safe to render: the whole value masked under a secret-looking
    key, mappings and sequences scrubbed item by item (so ``headers={"Authorization": ...}`` is
    masked), numbers, bools, ``None`` and strings kept, anything else turned into its ``str()``.
    Text is not redacted here: run :meth:`Redactor.redact` over the rendered line."""
    if is_secret_key(key):
        return MASK
    if value is None or isinstance(value, _SCALARS):
        return value
    if isinstance(value, Mapping):
        return {str(k): scrub_field(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_field("", v) for v in value]
    return str(value)
