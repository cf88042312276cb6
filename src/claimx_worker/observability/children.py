"""Metric children looked up once per label values, for metrics counted on per-event paths."""

from __future__ import annotations

from typing import Generic, TypeVar

from prometheus_client import Counter, Histogram

M = TypeVar("M", Counter, Histogram)


class LabelledChildren(Generic[M]):
    """A metric's children by label values, each looked up once: ``labels()`` validates and
    locks on every call, which costs microseconds on a per-request path."""

    def __init__(self, metric: M) -> None:
        self._metric: M = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        """The child for ``values`` (created on first use, like ``labels()``)."""
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child
