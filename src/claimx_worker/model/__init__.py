"""Data model: the event, entity rows, download tasks, plugin context and actions."""

from claimx_worker.model.actions import (
    ACTION_TYPE_NAMES,
    ACTION_TYPES,
    Action,
    Filter,
    Log,
    Metric,
    PublishToTopic,
    Webhook,
)
from claimx_worker.model.context import (
    EventFailure,
    HandlerMetadata,
    PluginContext,
    Stage,
)
from claimx_worker.model.converter import converter, new_converter
from claimx_worker.model.event import (
    TASK_EVENT_TYPES,
    ClaimXEvent,
    EventType,
    event_to_json,
    parse_event,
)
from claimx_worker.model.row_changes import ChangeRows
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
    "ACTION_TYPES",
    "ACTION_TYPE_NAMES",
    "TASK_EVENT_TYPES",
    "Action",
    "ChangeRows",
    "ClaimXEvent",
    "ContactRow",
    "DownloadTask",
    "EntityRows",
    "EventFailure",
    "EventType",
    "ExternalLinkRow",
    "Filter",
    "HandlerMetadata",
    "Log",
    "MediaRow",
    "Metric",
    "PluginContext",
    "ProjectRow",
    "PublishToTopic",
    "Stage",
    "TaskRow",
    "TaskTemplateRow",
    "VideoCollabRow",
    "Webhook",
    "converter",
    "event_to_json",
    "new_converter",
    "parse_event",
]
