"""Action payloads on the wire: compact JSON of the unstructured value, bytes passed through."""

from __future__ import annotations

import json
from typing import Any

from claimx_worker.errors import ClaimXWorkerError
from claimx_worker.model import converter


class InvalidActionError(ClaimXWorkerError, ValueError):
    """An action that cannot be sent as given (payload not JSON-serialisable, bad URL, bad
    signing key): never retried. Messages hold no secrets."""


def payload_bytes(value: Any) -> bytes:
    """``bytes`` as given, else compact UTF-8 JSON (attrs classes and datetimes unstructured
    with the model converter). Raises :class:`InvalidActionError`."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    try:
        data = converter.unstructure(value)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except UnicodeEncodeError:
        raise InvalidActionError("payload text is not valid UTF-8 (a lone surrogate)") from None
    except (TypeError, ValueError) as exc:
        raise InvalidActionError(f"payload is not JSON-serialisable: {exc}") from None
