"""claimx-worker: enrich ClaimX events from Kafka and hand them to plugins.

What this module exports is the public API for plugin authors; they import nothing else.
"""

from claimx_worker._version import __version__
from claimx_worker.conditions.compiled import ConditionMatcher, ConditionReport, compile_conditions
from claimx_worker.conditions.config import Condition, require_group
from claimx_worker.config.problems import ConfigValueError
from claimx_worker.config.references import connection_field
from claimx_worker.errors import ClaimXWorkerError, ErrorCategory
from claimx_worker.hookspecs import hookimpl
from claimx_worker.model.actions import Action, Filter, Log, Metric, PublishToTopic, Webhook
from claimx_worker.model.context import EventFailure, HandlerMetadata, PluginContext, Stage
from claimx_worker.model.converter import plugin_converter as converter
from claimx_worker.model.event import ClaimXEvent, EventType
from claimx_worker.model.row_changes import ChangeRows
from claimx_worker.model.rows import (
    ContactRow,
    EntityRows,
    ExternalLinkRow,
    MediaRow,
    ProjectRow,
    TaskRow,
    TaskTemplateRow,
    VideoCollabRow,
)
from claimx_worker.observability.logs import PreparedLogLine, log_enabled, write_line
from claimx_worker.plugins.base import Plugin

__all__ = [
    "Action",
    "ChangeRows",
    "ClaimXEvent",
    "ClaimXWorkerError",
    "Condition",
    "ConditionMatcher",
    "ConditionReport",
    "ConfigValueError",
    "ContactRow",
    "EntityRows",
    "ErrorCategory",
    "EventFailure",
    "EventType",
    "ExternalLinkRow",
    "Filter",
    "HandlerMetadata",
    "Log",
    "MediaRow",
    "Metric",
    "Plugin",
    "PluginContext",
    "PreparedLogLine",
    "ProjectRow",
    "PublishToTopic",
    "Stage",
    "TaskRow",
    "TaskTemplateRow",
    "VideoCollabRow",
    "Webhook",
    "__version__",
    "compile_conditions",
    "connection_field",
    "converter",
    "hookimpl",
    "log_enabled",
    "require_group",
    "write_line",
]
