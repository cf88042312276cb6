"""The ClaimX event as consumed from Kafka, and its parsing and JSON form."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs
from attrs import field, frozen
from cattrs.errors import ClassValidationError
from cattrs.preconf.json import JsonConverter

from claimx_worker.errors import InvalidEventError
from claimx_worker.model.converter import new_converter


class EventType(enum.StrEnum):
    """The ClaimX event types the worker knows how to enrich."""

    PROJECT_CREATED = "PROJECT_CREATED"
    PROJECT_MFN_ADDED = "PROJECT_MFN_ADDED"
    PROJECT_FILE_ADDED = "PROJECT_FILE_ADDED"
    CUSTOM_TASK_ASSIGNED = "CUSTOM_TASK_ASSIGNED"
    CUSTOM_TASK_COMPLETED = "CUSTOM_TASK_COMPLETED"
    POLICYHOLDER_INVITED = "POLICYHOLDER_INVITED"
    POLICYHOLDER_JOINED = "POLICYHOLDER_JOINED"
    VIDEO_COLLABORATION_INVITE_SENT = "VIDEO_COLLABORATION_INVITE_SENT"
    VIDEO_COLLABORATION_COMPLETED = "VIDEO_COLLABORATION_COMPLETED"
    PROJECT_AUTO_XA_LINKING_UNSUCCESSFUL = "PROJECT_AUTO_XA_LINKING_UNSUCCESSFUL"


TASK_EVENT_TYPES = frozenset({EventType.CUSTOM_TASK_ASSIGNED, EventType.CUSTOM_TASK_COMPLETED})


@frozen(kw_only=True)
class ClaimXEvent:
    """One ClaimX event. ``event_type`` stays a plain string: unknown types are not errors."""

    event_id: str
    event_type: str
    project_id: str
    created_at: datetime | None = None
    task_assignment_id: str | None = None
    media_id: str | None = None
    video_collaboration_id: str | None = None
    master_file_name: str | None = None
    retry_count: int = 0
    metadata: Mapping[str, Any] = field(factory=dict)

    @property
    def known_type(self) -> EventType | None:
        """The event type as an :class:`EventType`, or ``None`` when unknown."""
        try:
            return EventType(self.event_type)
        except ValueError:
            return None


class _FieldError(ValueError):
    """A field value of the wrong type; the message is shown as is after the field name."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _key_aliases() -> dict[str, str]:
    aliases: dict[str, str] = {}
    for attribute in attrs.fields(ClaimXEvent):
        aliases[attribute.name] = attribute.name
        aliases[_camel(attribute.name)] = attribute.name
    aliases["ingested_at"] = aliases["ingestedAt"] = "ingested_at"
    return aliases


_KEY_ALIASES = _key_aliases()
_REQUIRED = tuple(a.name for a in attrs.fields(ClaimXEvent) if a.default is attrs.NOTHING)


def _structure_str(value: object, _: type) -> str:
    # Ids are numeric in practice; accept JSON numbers for them but nothing else that isn't text.
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _FieldError(f"expected string, got {value!r}")


def _structure_int(value: object, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise _FieldError(f"expected int, got {value!r}")


def _structure_metadata(value: object, _: type) -> Mapping[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    raise _FieldError(f"expected object, got {value!r}")


def _structure_datetime(value: object, _: type) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    raise _FieldError(f"expected an ISO-8601 datetime, got {value!r}")


def _event_converter() -> JsonConverter:
    converter = new_converter()
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook_func(
        lambda cls: cls == Mapping[str, Any], _structure_metadata
    )
    converter.register_structure_hook(datetime, _structure_datetime)
    return converter


_CONVERTER = _event_converter()


def _describe(error: BaseException) -> str:
    if isinstance(error, KeyError):
        return "required field missing"
    if isinstance(error, _FieldError):
        return str(error)
    return f"invalid value ({error})"


def _field_messages(error: ClassValidationError) -> list[str]:
    messages = []
    for sub in error.exceptions:
        names = [getattr(note, "name", None) for note in getattr(sub, "__notes__", ())]
        name = next((n for n in names if n), "event")
        messages.append(f"{name}: {_describe(sub)}")
    return messages


def _normalise_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in data.items():
        name = _KEY_ALIASES.get(key)
        if name is not None:
            fields[name] = value
    ingested_at = fields.pop("ingested_at", None)
    if fields.get("created_at") is None and ingested_at is not None:
        fields["created_at"] = ingested_at
    return fields


MAX_NESTING = 32
"""How deep an event's ``metadata`` may nest (event data is untrusted; encoders have limits)."""
_TOO_DEEP = f"event: nested deeper than {MAX_NESTING} levels"


def nested_deeper(value: object, limit: int) -> bool:
    """Whether ``value`` holds containers nested more than ``limit`` deep (no recursion)."""
    level: list[object] = [value]
    for _ in range(limit + 1):
        level = [
            child
            for item in level
            if isinstance(item, Mapping | list)
            for child in (item.values() if isinstance(item, Mapping) else item)
        ]
        if not level:
            return False
    return True


def parse_event(data: bytes | str | Mapping[str, Any]) -> ClaimXEvent:
    """Parse one event from JSON or a mapping; snake_case and camelCase keys both accepted.

    Unknown keys are ignored; ``ingested_at`` stands in for a missing ``created_at``. Raises
    :class:`~claimx_worker.errors.InvalidEventError` naming the offending field(s).
    """
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
            raise InvalidEventError(f"not valid JSON: {exc}") from None
        except RecursionError:
            raise InvalidEventError(_TOO_DEEP) from None
    if not isinstance(data, Mapping):
        raise InvalidEventError(f"event: expected a JSON object, got {type(data).__name__}")
    fields = _normalise_keys(data)
    if nested_deeper(fields.get("metadata"), MAX_NESTING):
        raise InvalidEventError(_TOO_DEEP)
    try:
        event = _CONVERTER.structure(fields, ClaimXEvent)
    except ClassValidationError as exc:
        raise InvalidEventError("; ".join(_field_messages(exc))) from None
    for name in _REQUIRED:
        if not getattr(event, name).strip():
            raise InvalidEventError(f"{name}: must not be empty")
    return event


def event_to_json(event: ClaimXEvent) -> bytes:
    """The event as compact snake_case JSON with ISO-8601 dates."""
    return json.dumps(_CONVERTER.unstructure(event), separators=(",", ":")).encode()
