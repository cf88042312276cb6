"""The counters behind the Metric action."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from claimx_worker.actions.metric_counters import (
    MetricActionCounters,
    MetricActionError,
    metric_name,
)
from claimx_worker.model import Metric


def test_names_are_sanitised_and_prefixed() -> None:
    assert metric_name("photo_tasks") == "claimx_plugin_photo_tasks"
    assert metric_name("Photo Tasks-Done.total") == "claimx_plugin_photo_tasks_done"
    assert metric_name("photo_tasks_total") == "claimx_plugin_photo_tasks"
    with pytest.raises(MetricActionError):
        metric_name("---")


def test_counts_with_labels_and_instance() -> None:
    registry = CollectorRegistry()
    metrics = MetricActionCounters(registry)
    metrics.count(Metric(name="photo_tasks", labels={"status": "done"}), "trigger_a")
    metrics.count(Metric(name="photo_tasks", value=2, labels={"status": "done"}), "trigger_a")
    metrics.count(Metric(name="photo_tasks", labels={"status": "done"}), "trigger_b")
    value = registry.get_sample_value(
        "claimx_plugin_photo_tasks_total", {"status": "done", "instance": "trigger_a"}
    )
    assert value == 3.0
    assert (
        registry.get_sample_value(
            "claimx_plugin_photo_tasks_total", {"status": "done", "instance": "trigger_b"}
        )
        == 1.0
    )


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (Metric(name="m", labels={"other": "x"}), "label names"),
        (Metric(name="m", labels={}), "label names"),
        (Metric(name="m", labels={"instance": "x"}), "reserved"),
        (Metric(name="m", value=-1, labels={"status": "x"}), "m"),
        (Metric(name="m", labels={"bad-label": "x"}), "invalid label names"),
        (Metric(name="n", labels={"__name": "x"}), "invalid label names"),
    ],
)
def test_bad_metrics_raise_without_breaking_the_counter(action: Metric, match: str) -> None:
    registry = CollectorRegistry()
    metrics = MetricActionCounters(registry)
    metrics.count(Metric(name="m", labels={"status": "x"}), "i")
    with pytest.raises(MetricActionError, match=match):
        metrics.count(action, "i")
    metrics.count(Metric(name="m", labels={"status": "x"}), "i")
    assert registry.get_sample_value("claimx_plugin_m_total", {"status": "x", "instance": "i"}) == 2


def test_a_name_taken_by_another_collector_is_an_error() -> None:
    registry = CollectorRegistry()
    MetricActionCounters(registry).count(Metric(name="dup"), "i")
    with pytest.raises(MetricActionError, match="claimx_plugin_dup"):
        MetricActionCounters(registry).count(Metric(name="dup"), "i")
