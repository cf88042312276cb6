"""Triggers compiled at load into lookup tables: event type -> task template id -> actions.

The hot path is two dict lookups; a match builds the actions from precomputed templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from attrs import Factory, field, frozen

from claimx_plugin_task_trigger.config import (
    ActionBlock,
    LogConfig,
    MetricConfig,
    PublishToTopicConfig,
    TaskTriggerConfig,
    WebhookConfig,
)
from claimx_plugin_task_trigger.payload import Columns
from claimx_plugin_task_trigger.placeholders import printf_template
from claimx_plugin_task_trigger.shaping import Producer, UrlTemplate, compile_payload
from claimx_worker import (
    Action,
    ConditionMatcher,
    EventType,
    Log,
    Metric,
    PreparedLogLine,
    PublishToTopic,
    Webhook,
    compile_conditions,
)

Payload = dict[str, Any]
DEFAULT_WEBHOOK_TIMEOUT = 10.0
"""Seconds, for a webhook to a URL that sets no ``timeout``."""


class ActionTemplate(Protocol):
    """Builds one action from a payload and the rows' columns it was made of."""

    def build(self, payload: Payload, task: Columns, project: Columns | None) -> Action:
        """The action for this payload."""
        ...


# A match builds its actions as ``object.__new__`` then the class's own (attrs) ``__init__``:
# the same object as ``Webhook(url=...)``, defaults and validators included, without
# ``type.__call__`` packing the keywords into a dict first (0.3 us of an action's 0.9).
_new = object.__new__
_init_publish = PublishToTopic.__init__
_init_webhook = Webhook.__init__
_init_log = Log.__init__


def _shaper(template: dict[str, Any] | None) -> Producer | None:
    return None if template is None else compile_payload(template)


@frozen
class PublishTemplate:
    """Publishes the payload (or its template's output); key: the project id, or the
    configured key formatted. ``headers`` are the message headers of its trigger and event
    type (see :func:`route_headers`), the event id filled in per message."""

    config: PublishToTopicConfig
    headers: Mapping[str, str]
    shape: Producer | None = field(
        default=Factory(lambda self: _shaper(self.config.payload), takes_self=True)
    )

    key: str | None = field(
        default=Factory(
            lambda self: None if self.config.key is None else printf_template(self.config.key),
            takes_self=True,
        )
    )

    def build(self, payload: Payload, task: Columns, project: Columns | None) -> Action:
        """A :class:`PublishToTopic` with the trigger, task and event as headers."""
        key = self.key
        shape = self.shape
        action = _new(PublishToTopic)
        _init_publish(
            action,
            topic=self.config.topic,
            value=payload if shape is None else shape(payload, task, project),
            key=payload["project_id"] if key is None else key % payload,
            headers={**self.headers, "event_id": payload["event_id"]},
        )
        return action


def route_headers(trigger_name: str, task_id: int, event_type: str) -> dict[str, str]:
    """The headers of a trigger's messages for one event type: this plugin's names and the
    original trigger's ``x-`` names (``event_id``, set per message, keeps its place)."""
    return {
        "trigger_name": trigger_name,
        "task_id": str(task_id),
        "event_type": event_type,
        "event_id": "",
        "x-trigger-name": trigger_name,
        "x-task-id": str(task_id),
        "x-event-type": event_type,
    }


@frozen
class WebhookTemplate:
    """Sends the payload (or its template's output) as the JSON body of a request, to the URL
    (or the connection's path) with its placeholders filled."""

    config: WebhookConfig
    shape: Producer | None = field(
        default=Factory(lambda self: _shaper(self.config.payload), takes_self=True)
    )
    url: UrlTemplate = field(
        default=Factory(
            lambda self: UrlTemplate(str(self.config.url or self.config.path)), takes_self=True
        )
    )

    def build(self, payload: Payload, task: Columns, project: Columns | None) -> Action:
        """A :class:`Webhook` carrying the payload."""
        config = self.config
        shape = self.shape
        timeout = config.timeout
        if timeout is None:  # through a connection, 0 takes the connection's
            timeout = DEFAULT_WEBHOOK_TIMEOUT if config.connection is None else 0.0
        action = _new(Webhook)
        _init_webhook(
            action,
            url=self.url.build(payload),
            method=config.method,
            headers=config.headers,
            body=payload if shape is None else shape(payload, task, project),
            timeout=timeout,
            signing_secret=config.signing_secret,
            connection=config.connection,
        )
        return action


@frozen
class LogTemplate:
    """Logs the configured message with its placeholders filled from the payload."""

    config: LogConfig
    message: str = field(
        default=Factory(lambda self: printf_template(self.config.message), takes_self=True)
    )

    def build(self, payload: Payload, task: Columns, project: Columns | None) -> Action:
        """A :class:`Log` at the configured level."""
        action = _new(Log)
        _init_log(action, message=self.message % payload, level=self.config.level)
        return action


@frozen
class MetricTemplate:
    """Counts one occurrence."""

    config: MetricConfig

    def build(self, payload: Payload, task: Columns, project: Columns | None) -> Action:
        """A :class:`Metric` adding 1."""
        return Metric(name=self.config.name, value=1.0, labels=self.config.labels)


@frozen
class CompiledTrigger:
    """A trigger for one event type: its name, its action templates in firing order, its
    "Task trigger matched" line (prepared at load: every field is fixed per trigger) and its
    compiled conditions (``None``: none, it fires on every event of its template and type).
    """

    name: str
    actions: tuple[ActionTemplate, ...]
    matched_line: PreparedLogLine
    conditions: ConditionMatcher | None = None

    def build(self, payload: Payload, task: Columns, project: Columns | None) -> list[Action]:
        """The actions for ``payload``, in order."""
        return [template.build(payload, task, project) for template in self.actions]


Routes = dict[str, dict[int, CompiledTrigger]]
"""Event type -> task template id -> compiled trigger."""


def compile_routes(config: TaskTriggerConfig) -> Routes:
    """Lookup tables for ``config``: the specific block's actions, then ``on_any``'s."""
    assigned, completed = (
        EventType.CUSTOM_TASK_ASSIGNED.value,
        EventType.CUSTOM_TASK_COMPLETED.value,
    )
    routes: Routes = {assigned: {}, completed: {}}
    for task_id, trigger in config.triggers.items():
        conditions = None if trigger.conditions is None else compile_conditions(trigger.conditions)
        for event_type, specific in (
            (assigned, trigger.on_assigned),
            (completed, trigger.on_completed),
        ):
            blocks = [block for block in (specific, trigger.on_any) if block is not None]
            if blocks:
                headers = route_headers(trigger.name, task_id, event_type)
                actions = tuple(
                    template for block in blocks for template in _templates(block, headers)
                )
                matched_line = PreparedLogLine(
                    "info",
                    "Task trigger matched",
                    trigger_name=trigger.name,
                    task_id=task_id,
                    event_type=event_type,
                    action_count=len(actions),
                )
                routes[event_type][task_id] = CompiledTrigger(
                    trigger.name, actions, matched_line, conditions
                )
    return routes


def published_topics(routes: Routes) -> set[str]:
    """The topics of every ``publish_to_topic`` action in ``routes``."""
    return {
        template.config.topic
        for triggers in routes.values()
        for trigger in triggers.values()
        for template in trigger.actions
        if isinstance(template, PublishTemplate)
    }


def _templates(block: ActionBlock, headers: Mapping[str, str]) -> list[ActionTemplate]:
    templates: list[ActionTemplate] = []
    if block.publish_to_topic is not None:
        templates.append(PublishTemplate(block.publish_to_topic, headers))
    if block.webhook is not None:
        templates.append(WebhookTemplate(block.webhook))
    if block.log is not None:
        templates.append(LogTemplate(block.log))
    if block.metric is not None:
        templates.append(MetricTemplate(block.metric))
    return templates
