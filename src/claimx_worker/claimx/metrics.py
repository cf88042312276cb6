"""Prometheus metrics of ClaimX enrichment, registered on a registry the caller owns."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from claimx_worker.observability.children import LabelledChildren


class ClaimXMetrics:
    """API requests and latency, enrichment latency, unknown event types, circuit state."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.api_requests = Counter(
            "claimx_api_requests",
            "ClaimX API requests by endpoint and outcome (ok, transient, rate_limited, "
            "permanent, auth, circuit_open, cancelled).",
            ["endpoint", "outcome"],
            registry=registry,
        )
        self.api_requests_by = LabelledChildren(self.api_requests)
        self.api_duration = Histogram(
            "claimx_api_request_duration_seconds",
            "ClaimX API request latency (one HTTP attempt).",
            ["endpoint"],
            registry=registry,
        )
        self.api_duration_by = LabelledChildren(self.api_duration)
        self.enrichment_duration = Histogram(
            "claimx_enrichment_duration_seconds",
            "Time to enrich one event, API calls included.",
            ["event_type"],
            registry=registry,
        )
        self.enrichment_duration_by = LabelledChildren(self.enrichment_duration)
        self.unknown_event_types = Counter(
            "claimx_events_unknown_type",
            "Events of a type the worker does not know; passed through without rows.",
            ["event_type"],
            registry=registry,
        )
        self.concurrency_limit = Gauge(
            "claimx_api_concurrency_limit",
            "ClaimX API requests allowed in flight now: max_concurrency, halved on a 429 and "
            "raised again as requests are answered.",
            registry=registry,
        )
        self.circuit_open = Gauge(
            "claimx_api_circuit_open",
            "1 while the ClaimX API circuit breaker fails requests fast, else 0.",
            registry=registry,
        )
