"""The enrichment entry point the pipeline calls once per event."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from attrs import frozen
from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker.claimx.builders import Stamp
from claimx_worker.claimx.client import ApiCallTally, ClaimXApiClient
from claimx_worker.claimx.handlers import HANDLERS, HandlerContext
from claimx_worker.claimx.metrics import ClaimXMetrics
from claimx_worker.claimx.projects import ProjectCache
from claimx_worker.claimx.settings import ApiSettings
from claimx_worker.model import ClaimXEvent, EntityRows, HandlerMetadata
from claimx_worker.observability.logs import log_enabled


@frozen(kw_only=True)
class Enrichment:
    """The result of enriching one event: its rows and how enrichment went (handler name,
    ``None`` for unknown types; HTTP requests sent for it; duration)."""

    rows: EntityRows
    metadata: HandlerMetadata


def _utc_now() -> datetime:
    return datetime.now(UTC)


MAX_UNKNOWN_EVENT_TYPES = 50
"""Distinct unknown event types that get a label of their own (event data is untrusted)."""
OTHER_EVENT_TYPE = "other"
"""The label of every further unknown type, and of one not shaped like an event type."""
_EVENT_TYPE_SHAPE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_SHOWN_CHARS = 64


class Enricher:
    """Turns a :class:`ClaimXEvent` into entity rows and download tasks through the ClaimX API.

    Unknown event types are not errors: they yield no rows, are counted per type and logged
    once per type. API failures raise :class:`~claimx_worker.errors.TransientError`,
    :class:`~claimx_worker.errors.PermanentError` or :class:`~claimx_worker.errors.AuthError`.
    """

    def __init__(
        self,
        client: ClaimXApiClient,
        *,
        metrics: ClaimXMetrics,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._client = client
        self._projects = ProjectCache(client, ttl_seconds=client.settings.project_cache_ttl_seconds)
        self._metrics = metrics
        self._now = now
        self._unknown_seen: set[str] = set()
        self._other_seen = False

    @classmethod
    def from_settings(
        cls,
        settings: ApiSettings,
        *,
        registry: CollectorRegistry,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Enricher:
        """An enricher with its own API client; metrics go to ``registry``.

        ``transport`` overrides the one ``settings.http_client`` selects (tests inject one).
        """
        metrics = ClaimXMetrics(registry)
        return cls(ClaimXApiClient(settings, metrics=metrics, transport=transport), metrics=metrics)

    @property
    def client(self) -> ClaimXApiClient:
        """The API client."""
        return self._client

    async def __aenter__(self) -> Enricher:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the API client."""
        await self._client.aclose()

    async def enrich(self, event: ClaimXEvent) -> Enrichment:
        """Enrich one event; unknown types return empty rows."""
        started = time.perf_counter()
        known = event.known_type
        if known is None:
            self._unknown(event)
            return Enrichment(rows=EntityRows(), metadata=_metadata(None, 0, started))
        handler = HANDLERS[known]
        tally = ApiCallTally()
        context = HandlerContext(
            event=event,
            client=self._client,
            projects=self._projects,
            tally=tally,
            stamp=Stamp(event_id=event.event_id, now=self._now()),
        )
        try:
            rows = await handler.run(context)
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.enrichment_duration_by(known.value).observe(elapsed)
        metadata = _metadata(handler.name, tally.count, started)
        if log_enabled("debug"):  # per event: a tenth of a filtered call's microsecond
            logger.debug(
                "Event enriched",
                event_id=event.event_id,
                event_type=event.event_type,
                handler=handler.name,
                api_calls=tally.count,
                duration_ms=round(metadata.duration_ms, 2),
            )
        return Enrichment(rows=rows, metadata=metadata)

    def _unknown(self, event: ClaimXEvent) -> None:
        """Count an unknown type; warn once per label. Event data is untrusted, so a type gets
        a label of its own only while it looks like one and ``MAX_UNKNOWN_EVENT_TYPES`` are
        not yet labelled; every other is counted (and warned about once) as ``other``."""
        event_type = event.event_type
        if event_type in self._unknown_seen:
            self._metrics.unknown_event_types.labels(event_type).inc()
            return
        if (
            len(self._unknown_seen) < MAX_UNKNOWN_EVENT_TYPES
            and _EVENT_TYPE_SHAPE.fullmatch(event_type) is not None
        ):
            self._unknown_seen.add(event_type)
            self._metrics.unknown_event_types.labels(event_type).inc()
            logger.bind(event_type=event_type, event_id=_shortened(event.event_id)).warning(
                "Unknown ClaimX event type: passing it through without enrichment"
            )
            return
        self._metrics.unknown_event_types.labels(OTHER_EVENT_TYPE).inc()
        if not self._other_seen:
            self._other_seen = True
            logger.bind(
                event_type=_shortened(event_type), event_id=_shortened(event.event_id)
            ).warning(
                f"Unknown ClaimX event type counted as '{OTHER_EVENT_TYPE}' (not shaped like an "
                f"event type, or over {MAX_UNKNOWN_EVENT_TYPES} unknown types): passing it through"
            )


def _shortened(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


def _metadata(handler: str | None, api_calls: int, started: float) -> HandlerMetadata:
    duration_ms = (time.perf_counter() - started) * 1000
    return HandlerMetadata(handler=handler, api_calls=api_calls, duration_ms=duration_ms)
