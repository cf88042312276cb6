"""The cattrs converters of model classes to and from JSON-able data: the worker's, and the
one exported to plugins, built alike by :func:`new_converter`."""

from __future__ import annotations

from datetime import UTC, datetime

from cattrs.fns import identity
from cattrs.preconf.json import JsonConverter, make_converter

_PASSTHROUGH = (str | None, int | None, float | None, bool | None)
"""Optional JSON scalars: registered as ``identity``, which cattrs inlines as a plain read."""


_ISO_CACHE_SIZE = 16384


def format_datetime(value: datetime) -> str:
    """ISO-8601, UTC with millisecond precision and ``Z`` for aware datetimes; cached, as
    formatting costs microseconds and an event's audit timestamps repeat in every row. Keyed in
    UTC: aware datetimes of one other zone compare by wall time, a DST fold aside."""
    if value.tzinfo is UTC:  # the common case first: a cached text
        text = _ISO_TEXTS.get(value)
        if text is not None:
            return text
    elif value.tzinfo is not None:
        value = value.astimezone(UTC)
    text = _ISO_TEXTS.get(value)
    if text is None:
        if len(_ISO_TEXTS) >= _ISO_CACHE_SIZE:
            _ISO_TEXTS.clear()
        text = _ISO_TEXTS[value] = _format(value)
    return text


_ISO_TEXTS: dict[datetime, str] = {}


def _format(value: datetime) -> str:
    if value.tzinfo is None:
        return value.isoformat()
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"  # "+00:00" -> "Z"


def _iso_or_none(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is UTC:  # as in format_datetime, without a second call
        text = _ISO_TEXTS.get(value)
        if text is not None:
            return text
    return format_datetime(value)


def _parse_datetime(value: object, _: type) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    raise TypeError(f"expected an ISO-8601 datetime string, got {type(value).__name__}")


def new_converter() -> JsonConverter:
    """A JSON-preconfigured converter with our datetime and tuple conventions."""
    converter = make_converter(omit_if_default=False)
    converter.register_unstructure_hook(datetime, format_datetime)
    converter.register_unstructure_hook(datetime | None, _iso_or_none)
    for optional in _PASSTHROUGH:
        converter.register_unstructure_hook(optional, identity)
    converter.register_structure_hook(datetime, _parse_datetime)
    return converter


converter = new_converter()
"""The worker's converter (entity rows, download tasks, action payloads); treat as read-only
(register hooks on a :func:`new_converter` of your own)."""

plugin_converter = new_converter()
"""The converter plugins get as ``claimx_worker.converter``: the worker's conventions, its own
hooks, so a hook a plugin registers never changes what the worker writes."""
