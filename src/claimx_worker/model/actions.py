"""Actions: what plugins ask the worker to do. Plugins return them; the action executor runs them.

Plugins never set idempotency keys: the executor derives one per action from the event id, the
instance name and the action's index in the instance's result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from claimx_worker.model.row_changes import ChangeRows

LOG_LEVELS = frozenset({"trace", "debug", "info", "success", "warning", "error", "critical"})


def _check_level(_: object, __: object, value: str) -> None:
    if value not in LOG_LEVELS:
        raise ValueError(f"log level must be one of {', '.join(sorted(LOG_LEVELS))}, got {value!r}")


@frozen(kw_only=True, slots=False)
class PublishToTopic:
    """Publish ``value`` (JSON-able) to a Kafka topic, optionally keyed and with headers.

    A dict class, as :class:`Webhook`: built per event, and attrs builds a frozen one of
    several fields faster than a slotted one.
    """

    topic: str
    value: Any
    key: str | None = None
    headers: Mapping[str, str] = field(factory=dict)


@frozen(kw_only=True, slots=False)
class Webhook:
    """Call an HTTP endpoint. ``headers`` and ``signing_secret`` are secrets: never in a repr.

    A dict class: built per event, and attrs builds a frozen one of seven fields about a third
    faster than a slotted one (which sets each field through ``object.__setattr__``).

    With ``connection`` (a connection defined in ``<plugins_dir>/connections/``), ``url`` is a
    path (and query) below the connection's ``base_url``, and the connection adds its headers,
    authentication, retry policy and limits; a ``timeout`` of 0 takes the connection's.
    """

    url: str
    method: str = "POST"
    headers: Mapping[str, str] = field(factory=dict, repr=False)
    body: Any = None
    timeout: float = 10.0
    signing_secret: str | None = field(default=None, repr=False)
    connection: str | None = None


@frozen(kw_only=True, slots=False)
class Log:
    """Write a log line; ``fields`` become ``key=value`` pairs. ``level`` is a loguru level name.

    A dict class, as :class:`Webhook`: built per event.
    """

    message: str
    level: str = field(default="info", validator=_check_level)
    fields: Mapping[str, Any] = field(factory=dict)


@frozen(kw_only=True)
class Metric:
    """Increment the plugin counter ``name`` by ``value`` with ``labels``."""

    name: str
    value: float = 1.0
    labels: Mapping[str, str] = field(factory=dict)


@frozen(kw_only=True)
class Filter:
    """Stop here: skip lower-priority instances (and, after enrichment, the entity write)."""

    reason: str


Action = PublishToTopic | Webhook | Log | Metric | Filter | ChangeRows
"""Any action a plugin may return."""

ACTION_TYPES: tuple[type, ...] = (PublishToTopic, Webhook, Log, Metric, Filter, ChangeRows)
"""The action classes, for ``isinstance`` checks."""

ACTION_TYPE_NAMES: Mapping[type, str] = {
    PublishToTopic: "publish_to_topic",
    Webhook: "webhook",
    Log: "log",
    Metric: "metric",
    Filter: "filter",
    ChangeRows: "change_rows",
}
"""Each action class's name where actions are listed or recorded (``simulate``, shadow
records and their metric)."""
