"""ClaimX enrichment: API client, one handler per event type, entity rows and download tasks."""

from claimx_worker.claimx.client import ApiCallTally, ClaimXApiClient
from claimx_worker.claimx.enricher import Enricher, Enrichment
from claimx_worker.claimx.metrics import ClaimXMetrics
from claimx_worker.claimx.output import download_task_messages, entity_rows_message
from claimx_worker.claimx.settings import ApiSettings

__all__ = [
    "ApiCallTally",
    "ApiSettings",
    "ClaimXApiClient",
    "ClaimXMetrics",
    "Enricher",
    "Enrichment",
    "download_task_messages",
    "entity_rows_message",
]
