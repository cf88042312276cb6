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

Each name is imported from its module (``logs``, ``redaction``, ``health``, ``metrics``,
``server``): this package imports nothing, so that ``claimx_worker.observability.logs`` (the
public ``PreparedLogLine``) does not load the metrics and the HTTP server.
"""
