"""The one cattrs converter used for (un)structuring model classes to and from JSON-able data."""

from __future__ import annotations

from datetime import UTC, datetime

from cattrs.preconf.json import JsonConverter, make_converter


def _iso(value: datetime) -> str:
    """ISO-8601, UTC with millisecond precision and ``Z`` for aware datetimes."""
    if value.tzinfo is None:
        return value.isoformat()
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_datetime(value: object, _: type) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    raise TypeError(f"expected an ISO-8601 datetime string, got {type(value).__name__}")


def new_converter() -> JsonConverter:
    """A JSON-preconfigured converter with our datetime and tuple conventions."""
    converter = make_converter(omit_if_default=False)
    converter.register_unstructure_hook(datetime, _iso)
    converter.register_structure_hook(datetime, _parse_datetime)
    return converter


converter = new_converter()
"""Shared converter; treat as read-only (register hooks on a :func:`new_converter` copy)."""
