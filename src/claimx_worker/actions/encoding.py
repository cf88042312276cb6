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
        return _ENCODER.encode(value).encode()
    except UnicodeEncodeError:
        raise InvalidActionError("payload text is not valid UTF-8 (a lone surrogate)") from None
    except (TypeError, ValueError) as exc:
        raise InvalidActionError(f"payload is not JSON-serialisable: {exc}") from None


def _unstructured(value: Any) -> Any:
    """What JSON cannot carry as it is (an attrs class, a datetime, a set, bytes), unstructured
    with the model converter; the converter's output is encoded in turn."""
    data = converter.unstructure(value)
    if type(data) is type(value):  # the converter left it as it was
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
    return data


_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_unstructured
)
"""JSON's own types are encoded in C as they are (what the converter would make of them); only
the others go through the converter: a payload of plain JSON (the task trigger's) is not walked
twice."""
