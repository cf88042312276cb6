"""Tolerant reading of ClaimX API responses: wrappers, single object or list, loose value types.

The API's shapes vary (``data``/``media`` wrappers, an object where a list was expected, numbers
as strings). These helpers never raise on a value they cannot read; they return ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

Record = Mapping[str, Any]


def unwrap(payload: Any, *wrappers: str) -> Any:
    """Descend through the first wrapper key present, repeatedly: ``{"data": {"media": [...]}}``."""
    while isinstance(payload, Mapping):
        key = next((k for k in wrappers if k in payload), None)
        if key is None:
            break
        payload = payload[key]
    return payload


def records(payload: Any, *wrappers: str) -> list[Record]:
    """The objects of a response that is a list, one object, or either inside a wrapper."""
    inner = unwrap(payload, *wrappers)
    if isinstance(inner, Mapping):
        return [inner] if inner else []
    if isinstance(inner, list):
        return [item for item in inner if isinstance(item, Mapping)]
    return []


def record(payload: Any, *wrappers: str) -> Record:
    """The one object of a response (the first, if a list came back); ``{}`` when there is none."""
    found = records(payload, *wrappers)
    return found[0] if found else {}


def mapping(value: Any) -> Record:
    """``value`` if it is an object, else ``{}``."""
    return value if isinstance(value, Mapping) else {}


def text(value: Any) -> str | None:
    """A non-empty string; numbers become their decimal text."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int | float):
        return str(value)
    return None


def identifier(value: Any) -> str | None:
    """An id as text: ``12345``, ``"12345"`` and ``12345.0`` all read ``"12345"``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return text(value)


def integer(value: Any) -> int | None:
    """An int from an int, an integral float or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            number_value = number(value)
            return integer(number_value) if number_value is not None else None
    return None


def number(value: Any) -> float | None:
    """A float from a number or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def boolean(value: Any) -> bool | None:
    """A bool from a bool, ``0``/``1`` or ``"true"``/``"false"``/``"yes"``/``"no"``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "y"):
            return True
        if lowered in ("false", "0", "no", "n"):
            return False
    return None


def timestamp(value: Any) -> datetime | None:
    """A datetime from ISO-8601 text (``Z`` allowed, date-only allowed) or epoch milliseconds.

    A timestamp without a zone is taken as UTC.
    """
    parsed: datetime | None = None
    if isinstance(value, str) and value.strip():
        raw = value.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            try:
                parsed = datetime.combine(date.fromisoformat(raw[:10]), datetime.min.time())
            except ValueError:
                return None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(value / 1000, UTC)
    if parsed is None:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
