"""ClaimX task trigger plugin: configured actions when a task is assigned or completed."""

from claimx_plugin_task_trigger.config import (
    ActionBlock,
    LogConfig,
    MetricConfig,
    PublishToTopicConfig,
    TaskTriggerConfig,
    TriggerConfig,
    WebhookConfig,
)
from claimx_plugin_task_trigger.placeholders import PLACEHOLDERS
from claimx_plugin_task_trigger.plugin import TaskTriggerPlugin

__version__ = "0.1.0"

__all__ = [
    "PLACEHOLDERS",
    "ActionBlock",
    "LogConfig",
    "MetricConfig",
    "PublishToTopicConfig",
    "TaskTriggerConfig",
    "TaskTriggerPlugin",
    "TriggerConfig",
    "WebhookConfig",
]
