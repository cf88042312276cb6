"""The task trigger's configuration: attrs classes the plugin host structures from ``config:``.

Every class is frozen; validators raise :class:`~claimx_worker.ConfigValueError` naming their
field, which the host reports at that key's file and line. Classes with a ``SHORTHAND`` also
accept a plain string (the host structures ``webhook: "https://..."`` as ``{"url": "https://..."}``).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from attrs import Attribute, field, frozen

from claimx_plugin_task_trigger.placeholders import check_url_placeholders, template_fields
from claimx_plugin_task_trigger.shaping import template_problem
from claimx_worker import Condition, ConfigValueError, connection_field, require_group

WEBHOOK_METHODS = frozenset({"POST", "PUT", "PATCH"})
"""HTTP methods a webhook may use; the body is always the payload."""

_METRIC_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


def _check_template(_instance: object, attribute: Attribute[Any], value: str | None) -> None:
    if value is not None:
        try:
            template_fields(value)
        except ConfigValueError as error:
            raise ConfigValueError(str(error), key=attribute.name) from None


def _check_not_blank(_instance: object, attribute: Attribute[Any], value: str) -> None:
    if not value.strip():
        raise ConfigValueError(f"{attribute.name} must not be empty", key=attribute.name)


def _check_url(_instance: object, attribute: Attribute[Any], value: str | None) -> None:
    if value is None:
        return
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
    _check_url_placeholders(attribute, value)


def _check_url_placeholders(attribute: Attribute[Any], value: str) -> None:
    try:
        check_url_placeholders(value)
    except ConfigValueError as error:
        raise ConfigValueError(str(error), key=attribute.name) from None


def _check_path(_instance: object, attribute: Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    if not value.startswith("/") or value.startswith("//"):
        raise ConfigValueError(
            "path must start with '/' (it goes below the connection's base_url)",
            key=attribute.name,
        )
    _check_url_placeholders(attribute, value)


def _check_payload(
    _instance: object, attribute: Attribute[Any], value: dict[str, Any] | None
) -> None:
    problem = None if value is None else template_problem(value)
    if problem is not None:
        raise ConfigValueError(problem, key=attribute.name)


def _upper(value: str) -> str:
    return value.upper()


def _check_method(_instance: object, attribute: Attribute[Any], value: str) -> None:
    if value not in WEBHOOK_METHODS:
        raise ConfigValueError(
            f"unsupported method {value!r}; expected one of {', '.join(sorted(WEBHOOK_METHODS))}",
            key=attribute.name,
        )


def _check_timeout(_instance: object, attribute: Attribute[Any], value: float | None) -> None:
    if value is not None and not value > 0:
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
    """``publish_to_topic``: the payload (or the ``payload`` template's output) as a Kafka
    message (key: the project id by default)."""

    SHORTHAND: ClassVar[str] = "topic"

    topic: str = field(validator=_check_not_blank)
    key: str | None = field(default=None, validator=_check_template)
    payload: dict[str, Any] | None = field(default=None, validator=_check_payload)


@frozen(kw_only=True)
class WebhookConfig:
    """``webhook``: the payload (or the ``payload`` template's output) as a JSON body sent to
    ``url``, or to ``path`` below the base URL of the named ``connection``. Placeholders in the
    URL's (or path's) path and query are filled, percent-encoded. ``timeout`` defaults to 10
    seconds, or the connection's."""

    SHORTHAND: ClassVar[str] = "url"

    url: str | None = field(default=None, validator=_check_url)
    connection: str | None = connection_field()
    path: str | None = field(default=None, validator=_check_path)
    method: str = field(default="POST", converter=_upper, validator=_check_method)
    headers: dict[str, str] = field(factory=dict, repr=False)
    timeout: float | None = field(default=None, validator=_check_timeout)
    signing_secret: str | None = field(default=None, repr=False)
    payload: dict[str, Any] | None = field(default=None, validator=_check_payload)

    def __attrs_post_init__(self) -> None:
        if (self.url is None) == (self.connection is None):
            raise ConfigValueError("a webhook needs either url or connection (with path)")
        if self.connection is not None and self.path is None:
            raise ConfigValueError(
                "a webhook through a connection needs path (e.g. /api/contact)", key="connection"
            )
        if self.url is not None and self.path is not None:
            raise ConfigValueError(
                "path goes with connection; with url, write the whole URL", key="path"
            )


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
