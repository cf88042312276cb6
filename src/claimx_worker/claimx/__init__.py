"""ClaimX enrichment: API client, one handler per event type, entity rows and download tasks."""

from claimx_worker.claimx.output import download_task_messages, entity_rows_message
from claimx_worker.claimx.settings import ApiSettings, HttpClientKind

__all__ = [
    "ApiSettings",
    "HttpClientKind",
    "download_task_messages",
    "entity_rows_message",
]
