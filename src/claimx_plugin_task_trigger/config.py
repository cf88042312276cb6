"""The task trigger's configuration: attrs classes the plugin host structures from ``config:``.

Every class is frozen; validators raise :class:`~claimx_worker.ConfigValueError` naming their
field, which the host reports at that key's file and line. Classes with a ``SHORTHAND`` also
accept a plain string (the host structures ``webhook: "https://..."`` as ``{"url": "https://..."}``).
"""

from __future__ import annotations

import re
import string
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from attrs import Attribute, field, frozen

from claimx_worker import Condition, ConfigValueError, require_group

PLACEHOLDERS = (
    "trigger_name",
    "task_id",
    "event_id",
    "project_id",
    "event_type",
    "task_name",
    "assignment_id",
    "task_status",
)
"""Names a log message or a publish key may use as ``{name}`` (all are payload keys)."""

WEBHOOK_METHODS = frozenset({"POST", "PUT", "PATCH"})
"""HTTP methods a webhook may use; the body is always the payload."""

_METRIC_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_FORMATTER = string.Formatter()


def template_fields(template: str) -> tuple[str, ...]:
    """The placeholder names in ``template``; raises ConfigValueError for anything not allowed.

    Only plain ``{name}`` placeholders from :data:`PLACEHOLDERS` are allowed (no positional
    ``{}``, attribute access, conversions or format specs); ``{{`` and ``}}`` are literal braces.
    """
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as error:
        raise ConfigValueError(f"invalid placeholder syntax in {template!r}: {error}") from None
    names: list[str] = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            raise ConfigValueError(
                f"unknown placeholder {{{name}}}; available: "
                + ", ".join(f"{{{known}}}" for known in PLACEHOLDERS)
            )
        if spec or conversion:
            raise ConfigValueError(
                f"placeholder {{{name}}} takes no format spec or conversion; write {{{name}}}"
            )
        names.append(name)
    return tuple(names)


def _check_template(_instance: object, attribute: Attribute[Any], value: str | None) -> None:
    if value is not None:
        try:
            template_fields(value)
        except ConfigValueError as error:
            raise ConfigValueError(str(error), key=attribute.name) from None


def _check_not_blank(_instance: object, attribute: Attribute[Any], value: str) -> None:
    if not value.strip():
        raise ConfigValueError(f"{attribute.name} must not be empty", key=attribute.name)


def _check_url(_instance: object, attribute: Attribute[Any], value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigValueError(
            "url must be an absolute http:// or https:// URL", key=attribute.name
        )
    if "@" in parts.netloc:
        raise ConfigValueError(
            "url must not carry credentials (user:password@host): send them in an "
            "Authorization header",
            key=attribute.name,
        )


def _upper(value: str) -> str:
    return value.upper()


def _check_method(_instance: object, attribute: Attribute[Any], value: str) -> None:
    if value not in WEBHOOK_METHODS:
        raise ConfigValueError(
            f"unsupported method {value!r}; expected one of {', '.join(sorted(WEBHOOK_METHODS))}",
            key=attribute.name,
        )


def _check_timeout(_instance: object, attribute: Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ConfigValueError("timeout must be a positive number of seconds", key=attribute.name)


def _check_metric_name(_instance: object, attribute: Attribute[Any], value: str) -> None:
    if not _METRIC_NAME.match(value):
        raise ConfigValueError(
            f"invalid metric name {value!r}; use letters, digits and _", key=attribute.name
        )


def _check_labels(_instance: object, attribute: Attribute[Any], value: dict[str, str]) -> None:
    for name in value:
        if not _LABEL_NAME.match(name) or name.startswith("__"):
            raise ConfigValueError(
                f"invalid label name {name!r}; use letters, digits and _", key=attribute.name
            )
        if name == "instance":
            raise ConfigValueError(
                "label 'instance' is reserved: the worker adds the instance name",
                key=attribute.name,
            )


@frozen(kw_only=True)
class PublishToTopicConfig:
    """``publish_to_topic``: the payload as a Kafka message (key: the project id by default)."""

    SHORTHAND: ClassVar[str] = "topic"

    topic: str = field(validator=_check_not_blank)
    key: str | None = field(default=None, validator=_check_template)


@frozen(kw_only=True)
class WebhookConfig:
    """``webhook``: the payload as a JSON body sent to ``url``."""

    SHORTHAND: ClassVar[str] = "url"

    url: str = field(validator=_check_url)
    method: str = field(default="POST", converter=_upper, validator=_check_method)
    headers: dict[str, str] = field(factory=dict, repr=False)
    timeout: float = field(default=10.0, validator=_check_timeout)
    signing_secret: str | None = field(default=None, repr=False)


@frozen(kw_only=True)
class LogConfig:
    """``log``: one log line; ``message`` may use the placeholders in :data:`PLACEHOLDERS`."""

    SHORTHAND: ClassVar[str] = "message"

    message: str = field(validator=[_check_not_blank, _check_template])
    level: Literal["debug", "info", "warning", "error"] = "info"


@frozen(kw_only=True)
class MetricConfig:
    """``metric``: add 1 to the counter ``name`` (with fixed ``labels``) in the worker's metrics.

    The worker exposes it as ``claimx_plugin_<name>_total`` with the labels plus ``instance``.
    """

    SHORTHAND: ClassVar[str] = "name"

    name: str = field(validator=_check_metric_name)
    labels: dict[str, str] = field(factory=dict, validator=_check_labels)


@frozen(kw_only=True)
class ActionBlock:
    """The actions of one block; they run in the order publish, webhook, log, metric."""

    publish_to_topic: PublishToTopicConfig | None = None
    webhook: WebhookConfig | None = None
    log: LogConfig | None = None
    metric: MetricConfig | None = None

    def __attrs_post_init__(self) -> None:
        if not (self.publish_to_topic or self.webhook or self.log or self.metric):
            raise ConfigValueError(
                "an action block needs at least one of publish_to_topic, webhook, log, metric"
            )


@frozen(kw_only=True)
class TriggerConfig:
    """One trigger: the actions for one task template id, when its ``conditions`` (if any)
    match the event and its rows."""

    name: str = field(validator=_check_not_blank)
    conditions: Condition | None = field(default=None, validator=require_group)
    on_assigned: ActionBlock | None = None
    on_completed: ActionBlock | None = None
    on_any: ActionBlock | None = None

    def __attrs_post_init__(self) -> None:
        if not (self.on_assigned or self.on_completed or self.on_any):
            raise ConfigValueError(
                "a trigger needs at least one of on_assigned, on_completed, on_any"
            )


@frozen(kw_only=True)
class TaskTriggerConfig:
    """The ``config:`` of a ``task_trigger`` instance: triggers keyed by task template id."""

    triggers: dict[int, TriggerConfig]
    include_task_data: bool = True
    include_project_data: bool = False

    def __attrs_post_init__(self) -> None:
        label_names: dict[str, list[str]] = {}
        for trigger in self.triggers.values():
            for block in (trigger.on_assigned, trigger.on_completed, trigger.on_any):
                if block is None or block.metric is None:
                    continue
                labels = sorted(block.metric.labels)
                known = label_names.setdefault(block.metric.name, labels)
                if labels != known:
                    raise ConfigValueError(
                        f"metric {block.metric.name!r} is used with label names {known} and "
                        f"{labels}; one counter needs the same label names everywhere"
                    )
