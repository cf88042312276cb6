"""The ClaimX event as consumed from Kafka."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from attrs import field, frozen


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
