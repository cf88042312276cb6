"""Settings of observability: the ``metrics:`` (the HTTP server) and ``logging:`` sections of the
worker settings."""

from __future__ import annotations

import errno

from attrs import field, frozen, validators

from claimx_worker.observability.logs import LogFormat, LogLevel
from claimx_worker.observability.server import DEFAULT_HOST


@frozen(kw_only=True)
class MetricsSettings:
    """``metrics``: the Prometheus endpoint (``/metrics``, ``/healthz``, ``/readyz``)."""

    host: str = DEFAULT_HOST
    """The address to listen on; ``127.0.0.1`` keeps the server local. The default, every
    interface, lets Prometheus and the orchestrator's probes reach it from outside the host or
    pod. The server is read-only and serves no secret."""
    port: int = field(default=9100, validator=[validators.ge(0), validators.le(65535)])
    """The port to listen on (``0``: any free port)."""


def cannot_listen(metrics: MetricsSettings, error: OSError) -> tuple[str, str]:
    """Why the server of ``metrics`` could not listen: the key of the setting to fix
    (``metrics.port`` when the port is taken, else ``metrics.host``) and the message."""
    address = f"{metrics.host}:{metrics.port}"
    if error.errno == errno.EADDRINUSE:
        return "metrics.port", f"{address} is already in use"
    return "metrics.host", f"cannot listen on {address}: {error.strerror or error}"


@frozen(kw_only=True)
class LoggingSettings:
    """``logging``: the worker's log lines, on standard error."""

    level: LogLevel = LogLevel.INFO
    """The least level written: TRACE, DEBUG, INFO, SUCCESS, WARNING, ERROR or CRITICAL."""
    format: LogFormat = LogFormat.HUMAN
    """``human`` (``LEVEL: message | key=value ...``) or ``json`` (one object per line)."""
