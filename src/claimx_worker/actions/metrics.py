"""The executor's own metrics: actions by type and outcome, attempts, durations, open circuits,
actions in flight."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from claimx_worker.http.breaker import CircuitState
from claimx_worker.observability.children import LabelledChildren

_DURATION_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class ExecutorMetrics:
    """``claimx_actions_total{type,outcome}`` (outcome: delivered, retried, parked,
    dead_lettered, failed, skipped), ``claimx_action_attempts_total{type}``,
    ``claimx_action_duration_seconds{type}`` (submission to outcome),
    ``claimx_webhook_circuit_open{endpoint}``, ``claimx_actions_in_flight`` and
    ``claimx_parked_actions_redelivering``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.actions = Counter(
            "claimx_actions",
            "Actions by type and outcome (retried counts each retry).",
            ["type", "outcome"],
            registry=registry,
        )
        self.attempts = Counter(
            "claimx_action_attempts",
            "Delivery attempts (webhook requests, Kafka produces) by action type.",
            ["type"],
            registry=registry,
        )
        self.duration = Histogram(
            "claimx_action_duration_seconds",
            "Seconds from an action's submission to its outcome.",
            ["type"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.circuit_open = Gauge(
            "claimx_webhook_circuit_open",
            "1 while a webhook endpoint's circuit is open or half-open, else 0.",
            ["endpoint"],
            registry=registry,
        )
        self.actions_by = LabelledChildren(self.actions)
        self.duration_by = LabelledChildren(self.duration)
        self.in_flight = Gauge(
            "claimx_actions_in_flight",
            "Actions submitted and not yet delivered, parked or dead-lettered.",
            registry=registry,
        )
        self.redelivering = Gauge(
            "claimx_parked_actions_redelivering",
            "Parked webhook actions this worker took from the action retry topic and is "
            "delivering (waiting while their endpoint's circuit is open).",
            registry=registry,
        )

    def circuit_changed(self, endpoint: str, state: CircuitState) -> None:
        """Record an endpoint's new circuit state."""
        self.circuit_open.labels(endpoint).set(0.0 if state is CircuitState.CLOSED else 1.0)
