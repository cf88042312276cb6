"""Observability: redacted logging, prometheus metrics, ``/metrics``, ``/healthz``, ``/readyz``.

Start-up, in this order::

    redactor = Redactor([api_token, *config_secrets])
    configure_logging(redactor=redactor)            # LOG_LEVEL, LOG_FORMAT
    registry = CollectorRegistry()
    health = HealthState()
    health.declare("partitions_assigned", "broker_reachable", "plugins_loaded")
    register_process_metrics(registry, version=__version__, health=health)
    server = start_observability_server(port, registry, health)
    asyncio.create_task(run_heartbeat(health))       # on the worker's loop
"""

from claimx_worker.observability.health import (
    HEARTBEAT_CHECK,
    HealthState,
    Liveness,
    Readiness,
    run_heartbeat,
)
from claimx_worker.observability.logs import LogFormat, PreparedLogLine, configure_logging
from claimx_worker.observability.metrics import HealthCollector, register_process_metrics
from claimx_worker.observability.redaction import MASK, Redactor, is_secret_key, scrub_field
from claimx_worker.observability.server import ObservabilityServer, start_observability_server

__all__ = [
    "HEARTBEAT_CHECK",
    "MASK",
    "HealthCollector",
    "HealthState",
    "Liveness",
    "LogFormat",
    "ObservabilityServer",
    "PreparedLogLine",
    "Readiness",
    "Redactor",
    "configure_logging",
    "is_secret_key",
    "register_process_metrics",
    "run_heartbeat",
    "scrub_field",
    "start_observability_server",
]
