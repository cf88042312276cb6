"""Data model: the event, entity rows, download tasks, plugin context and actions."""

from claimx_worker.model.converter import converter, new_converter
from claimx_worker.model.event import (
    TASK_EVENT_TYPES,
    ClaimXEvent,
    EventType,
    event_to_json,
    parse_event,
)
from claimx_worker.model.rows import (
    ContactRow,
    DownloadTask,
    EntityRows,
    ExternalLinkRow,
    MediaRow,
    ProjectRow,
    TaskRow,
    TaskTemplateRow,
    VideoCollabRow,
)

__all__ = [
    "TASK_EVENT_TYPES",
    "ClaimXEvent",
    "ContactRow",
    "DownloadTask",
    "EntityRows",
    "EventType",
    "ExternalLinkRow",
    "MediaRow",
    "ProjectRow",
    "TaskRow",
    "TaskTemplateRow",
    "VideoCollabRow",
    "converter",
    "event_to_json",
    "new_converter",
    "parse_event",
]
