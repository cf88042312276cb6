"""The counters behind the ``Metric`` action: one prometheus Counter per metric name,
created on first use, ``claimx_plugin_<name>_total`` with the action's labels plus ``instance``."""

from __future__ import annotations

import re
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter

from claimx_worker.errors import ClaimXWorkerError
from claimx_worker.model import Metric

PREFIX = "claimx_plugin_"
_INVALID = re.compile(r"[^a-zA-Z0-9_]+")
_LABEL = re.compile(r"(?!__)[a-zA-Z_][a-zA-Z0-9_]*")


class MetricActionError(ClaimXWorkerError, ValueError):
    """A ``Metric`` action that cannot be counted (bad name or value, changed label names)."""


def metric_name(name: str) -> str:
    """``claimx_plugin_<name>`` with every run of invalid characters made ``_`` and lower-cased;
    a trailing ``_total`` is dropped (prometheus-client adds it back to counters)."""
    cleaned = _INVALID.sub("_", name).strip("_").lower().removesuffix("_total")
    if not cleaned:
        raise MetricActionError(f"metric name {name!r} has no usable characters")
    return PREFIX + cleaned


class MetricActionCounters:
    """Counts ``Metric`` actions on the worker's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self._counters: dict[str, tuple[Counter, Sequence[str]]] = {}

    def count(self, action: Metric, instance: str) -> None:
        """Increment ``action``'s counter; raises :class:`MetricActionError` when it cannot."""
        name = metric_name(action.name)
        if "instance" in action.labels:
            raise MetricActionError(f"metric {name}: label 'instance' is reserved")
        invalid = sorted(label for label in action.labels if not _LABEL.fullmatch(label))
        if invalid:
            raise MetricActionError(f"metric {name}: invalid label names {invalid}")
        labels = tuple(sorted(action.labels))
        known = self._counters.get(name)
        if known is None:
            try:
                counter = Counter(
                    name,
                    f"Plugin metric {action.name!r}.",
                    [*labels, "instance"],
                    registry=self._registry,
                )
            except ValueError as exc:
                raise MetricActionError(f"metric {name}: {exc}") from None
            known = self._counters[name] = (counter, labels)
        counter, expected = known
        if labels != expected:
            raise MetricActionError(
                f"metric {name}: label names {list(labels)} differ from {list(expected)}"
            )
        try:
            counter.labels(*(action.labels[k] for k in labels), instance).inc(action.value)
        except ValueError as exc:
            raise MetricActionError(f"metric {name}: {exc}") from None
