"""``docs/grafana-dashboard.json`` is built on the metrics catalogue: every query names only
catalogued metrics (with a histogram's ``_bucket``/``_sum``/``_count``), and every panel queries
at least one."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.unit.test_metrics_catalogue import catalogued_series

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
_CLAIMX_NAME = re.compile(r"\bclaimx_[a-z_]+\b")
_SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{")
"""A metric name right before its label matchers: ``name{...}``."""


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) of every panel target and every templating query."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", ()):
            yield panel["title"], target["expr"]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            yield f"${variable['name']}", query["query"]


def test_every_query_names_only_catalogued_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    allowed = catalogued_series()
    used: set[str] = set()
    for where, expr in queries(dashboard):
        names = set(_CLAIMX_NAME.findall(expr))
        assert names, f"{where}: no claimx_ metric in {expr!r}"
        assert names <= allowed, f"{where}: not catalogued: {sorted(names - allowed)}"
        assert set(_SELECTOR.findall(expr)) <= allowed, f"{where}: {expr!r}"
        used |= names
    for wanted in (
        "claimx_consumer_lag",
        "claimx_oldest_uncommitted_event_age_seconds",
        "claimx_oldest_pending_action_age_seconds",
        "claimx_action_latency_seconds_bucket",
    ):
        assert wanted in used


def test_every_panel_but_a_row_has_a_query_and_a_unique_id() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        assert panel["type"] == "row" or panel["targets"], panel["title"]
