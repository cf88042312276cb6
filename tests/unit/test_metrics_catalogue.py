"""The metrics catalogue (docs/metrics.md) lists exactly the metrics the worker registers, with
their types.

Every metric class of the worker is registered on one registry, as ``claimx-worker run`` does;
the exposed names (counters with ``_total``, info with ``_info``) and types must match the
catalogue's tables. Dynamic names (``claimx_plugin_<name>_total``) and prometheus-client's
standard collectors are listed by pattern and left out of the comparison.
"""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from claimx_worker.actions.metrics import ExecutorMetrics
from claimx_worker.actions.settings import ActionSettings
from claimx_worker.actions.shadow import ShadowRecorder
from claimx_worker.actions.timing import ActionTimings
from claimx_worker.claimx.metrics import ClaimXMetrics
from claimx_worker.kafka.lag import LagMetrics, LagSnapshot
from claimx_worker.kafka.metrics import RuntimeMetrics
from claimx_worker.observability.health import HealthState
from claimx_worker.observability.metrics import register_process_metrics
from claimx_worker.plugins.metrics import PluginMetrics
from claimx_worker.plugins.quarantine import QuarantineMetrics
from claimx_worker.reload import ReloadMetrics
from claimx_worker.tables.metrics import TablesMetrics

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs" / "metrics.md"
_DECLARED = re.compile(
    r"(?:Counter|Gauge|Histogram|Summary|Info|MetricFamily)\(\s*\"(claimx_[a-z_]+)\"", re.DOTALL
)
_ROW = re.compile(r"^\| `(claimx_[a-z_]+)` \| (\w+) \|", re.MULTILINE)
_SUFFIX = {"counter": "_total", "info": "_info"}


async def _no_produce(topic: str, value: bytes, key: bytes | None, headers: object) -> None:
    """Never called: the recorder only registers its metric here."""


def registered() -> dict[str, str]:
    """Exposed name -> type of every ``claimx_`` metric the worker's parts register."""
    registry = CollectorRegistry()
    ClaimXMetrics(registry)
    ExecutorMetrics(registry)
    ShadowRecorder(ActionSettings(), topic="t", produce=_no_produce, registry=registry)
    PluginMetrics(registry)
    registry.register(QuarantineMetrics({}))
    ReloadMetrics(registry)
    TablesMetrics(registry)
    RuntimeMetrics(registry, in_flight=int, uncommitted=int, assigned=int, paused=int)
    LagMetrics(registry, LagSnapshot)
    ActionTimings(registry)
    register_process_metrics(registry, version="0", health=HealthState())
    return {
        family.name + _SUFFIX.get(family.type, ""): family.type
        for family in registry.collect()
        if family.name.startswith("claimx_")
    }


def catalogue() -> dict[str, str]:
    """Exposed name -> type of every row of the catalogue's tables."""
    return dict(_ROW.findall(CATALOGUE.read_text()))


_SERIES_SUFFIXES = {
    "histogram": ("", "_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}


def catalogued_series() -> set[str]:
    """Every series name a query may use: the catalogue's names, with ``_bucket``, ``_sum`` and
    ``_count`` for histograms and ``_sum`` and ``_count`` for summaries."""
    return {
        name + suffix
        for name, kind in catalogue().items()
        for suffix in _SERIES_SUFFIXES.get(kind, ("",))
    }


def test_the_catalogue_lists_every_registered_metric_with_its_type() -> None:
    assert catalogue() == registered()


def test_every_metric_declared_in_the_source_is_catalogued() -> None:
    """Catches a metric added in a module this file does not register above."""
    sources = (ROOT / "src" / "claimx_worker").rglob("*.py")
    declared = {
        name
        for source in sources
        if "testing" not in source.parts
        for name in _DECLARED.findall(source.read_text())
    }
    names = {name.removesuffix("_total").removesuffix("_info") for name in catalogue()}

    assert declared
    assert declared - names == set()


def test_the_example_alert_rules_use_catalogued_metrics() -> None:
    section = CATALOGUE.read_text().split("\n## Example alert rules\n", 1)[1]
    used = set(re.findall(r"\b(claimx_[a-z_]+)\b", section))

    assert used
    assert used <= catalogued_series()
