"""Settings of the observability server: the ``metrics:`` section of the worker settings file."""

from __future__ import annotations

from attrs import field, frozen, validators


@frozen(kw_only=True)
class MetricsSettings:
    """``metrics``: the Prometheus endpoint (``/metrics``, ``/healthz``, ``/readyz``)."""

    port: int = field(default=9100, validator=[validators.ge(0), validators.le(65535)])
