"""Tolerant reading of ClaimX API responses: wrappers, single object or list, loose value types.

The API's shapes vary (``data``/``media`` wrappers, an object where a list was expected, numbers
as strings). These helpers never raise on a value they cannot read; they return ``None``.

They run for every column of every row, so the common cases go first: ``None`` (a column the
response left out), then the JSON decoder's own types. ``isinstance(value, (dict, Mapping))``
answers a ``dict`` in C; the ``Mapping`` ABC alone takes over three times as long.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

Record = Mapping[str, Any]


def unwrap(payload: Any, *wrappers: str) -> Any:
    """Descend through the first wrapper key present, repeatedly: ``{"data": {"media": [...]}}``."""
    while isinstance(payload, (dict, Mapping)):
        key = next((k for k in wrappers if k in payload), None)
        if key is None:
            break
        payload = payload[key]
    return payload


def records(payload: Any, *wrappers: str) -> list[Record]:
    """The objects of a response that is a list, one object, or either inside a wrapper."""
    inner = unwrap(payload, *wrappers)
    if isinstance(inner, (dict, Mapping)):
        return [inner] if inner else []
    if isinstance(inner, list):
        return [item for item in inner if isinstance(item, (dict, Mapping))]
    return []


def record(payload: Any, *wrappers: str) -> Record:
    """The one object of a response (the first, if a list came back); ``{}`` when there is none."""
    found = records(payload, *wrappers)
    return found[0] if found else {}


def mapping(value: Any) -> Record:
    """``value`` if it is an object, else ``{}``."""
    if value is None:
        return {}
    return value if isinstance(value, (dict, Mapping)) else {}


def text(value: Any) -> str | None:
    """A non-empty string; numbers become their decimal text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    return None


def identifier(value: Any) -> str | None:
    """An id as text: ``12345``, ``"12345"`` and ``12345.0`` all read ``"12345"``."""
    if type(value) is float and value.is_integer():
        return str(int(value))
    return text(value)


def integer(value: Any) -> int | None:
    """An int from an int, an integral float or a numeric string."""
    if value is None or isinstance(value, bool):
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
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def boolean(value: Any) -> bool | None:
    """A bool from a bool, ``0``/``1`` or ``"true"``/``"false"``/``"yes"``/``"no"``."""
    if value is None:
        return None
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
    """A datetime in UTC from ISO-8601 text (``Z`` allowed, date-only allowed) or epoch
    milliseconds; ``None`` for anything else, or a time no datetime in UTC can hold.

    A timestamp without a zone is taken as UTC.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, str):
            parsed = _iso_timestamp(value)
        elif isinstance(value, (int, float)):
            return datetime.fromtimestamp(value / 1000, UTC)
        else:
            return None
        if parsed is None or parsed.tzinfo is UTC:
            return parsed
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):  # out of range: year 0, 10000, or beyond time_t
        return None


def _iso_timestamp(value: str) -> datetime | None:
    raw = value.strip().replace("Z", "+00:00")
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        try:
            return datetime.combine(date.fromisoformat(raw[:10]), datetime.min.time())
        except ValueError:
            return None
