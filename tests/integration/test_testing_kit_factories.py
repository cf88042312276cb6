"""The kit's rows are the rows the worker's enrichment builds from the ClaimX API simulator.

Each event the factories make is enriched for real, over HTTP, against the simulator (the
``claimx_api`` fixture); the result must equal :func:`make_rows` of the same event, except the
download links, which hold the simulator's address (both enrich at the kit's fixed moment).
"""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from claimx_worker.claimx import ApiSettings, ClaimXApiClient, ClaimXMetrics, Enricher
from claimx_worker.model import EventType, converter
from claimx_worker.testing import ClaimXApiSimulator, make_event, make_rows
from claimx_worker.testing.claimx_api import SIMULATOR_TOKEN
from claimx_worker.testing.factories import ENRICHED_AT, SAMPLE_API_URL


def comparable(rows: Any, base_url: str) -> dict[str, Any]:
    """Rows as JSON with the simulator's address replaced by the kit's."""
    data = converter.unstructure(rows)
    for items in data.values():
        for item in items:
            for key, value in item.items():
                if isinstance(value, str) and value.startswith(base_url):
                    item[key] = SAMPLE_API_URL + value.removeprefix(base_url)
    return data


@pytest.mark.parametrize("event_type", [t.value for t in EventType])
async def test_make_rows_equals_enrichment_against_the_simulator(
    claimx_api: ClaimXApiSimulator, event_type: str
) -> None:
    event = make_event(event_type)
    metrics = ClaimXMetrics(CollectorRegistry())
    settings = ApiSettings(base_url=claimx_api.base_url, token=SIMULATOR_TOKEN)
    client = ClaimXApiClient(settings, metrics=metrics)
    async with Enricher(client, metrics=metrics, now=lambda: ENRICHED_AT) as enricher:
        enriched = (await enricher.enrich(event)).rows
    assert not enriched.is_empty
    made = make_rows(event)
    assert comparable(enriched, claimx_api.base_url) == comparable(made, SAMPLE_API_URL)
    fetches = event_type != EventType.PROJECT_AUTO_XA_LINKING_UNSUCCESSFUL
    assert (claimx_api.total_calls > 0) is fetches
