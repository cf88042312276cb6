"""The cattrs converters of model classes to and from JSON-able data: the worker's, and the
one exported to plugins, built alike by :func:`new_converter`."""

from __future__ import annotations

from datetime import datetime

from cattrs.fns import identity
from cattrs.preconf.json import JsonConverter, make_converter

from claimx_worker.model.datetimes import format_datetime, format_optional_datetime
from claimx_worker.model.rows import ROW_CLASSES, EntityRows

_PASSTHROUGH = (str | None, int | None, float | None, bool | None)
"""Optional JSON scalars: registered as ``identity``, which cattrs inlines as a plain read."""


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
    converter.register_unstructure_hook(datetime | None, format_optional_datetime)
    for optional in _PASSTHROUGH:
        converter.register_unstructure_hook(optional, identity)
    converter.register_structure_hook(datetime, _parse_datetime)
    converter.register_unstructure_hook(
        EntityRows,
        lambda rows: {
            name: converter.unstructure(getattr(rows, name), tuple[row_class, ...])  # type: ignore[valid-type]
            for name, row_class in ROW_CLASSES.items()
        },
    )
    converter.register_structure_hook(
        EntityRows,
        lambda data, _: EntityRows(
            **{
                name: converter.structure(data[name], tuple[row_class, ...])  # type: ignore[valid-type]
                for name, row_class in ROW_CLASSES.items()
                if name in data
            }
        ),
    )
    return converter


converter = new_converter()
"""The worker's converter (entity rows, download tasks, action payloads); treat as read-only
(register hooks on a :func:`new_converter` of your own)."""

plugin_converter = new_converter()
"""The converter plugins get as ``claimx_worker.converter``: the worker's conventions, its own
hooks, so a hook a plugin registers never changes what the worker writes."""
