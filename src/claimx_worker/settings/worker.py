"""The worker's settings: one section per subsystem, each section the settings class that
subsystem owns; and the short environment variable names of the settings operators set most."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from attrs import field, frozen

from claimx_worker.actions.settings import ActionSettings
from claimx_worker.claimx.settings import ApiSettings
from claimx_worker.kafka.settings import KafkaSettings
from claimx_worker.observability.settings import LoggingSettings, MetricsSettings
from claimx_worker.plugins.settings import PluginSettings
from claimx_worker.settings.control import ControlSettings
from claimx_worker.tables.settings import TablesSettings


@frozen(kw_only=True)
class WorkerSettings:
    """Everything ``claimx-worker run`` needs; every setting has a production default."""

    kafka: KafkaSettings = field(factory=KafkaSettings)
    """The Kafka cluster, client properties, topics and processing."""
    claimx_api: ApiSettings = field(factory=ApiSettings)
    """The ClaimX REST API."""
    actions: ActionSettings = field(factory=ActionSettings)
    """Delivery of plugin actions: webhooks and topic publishes."""
    plugins: PluginSettings = field(factory=PluginSettings)
    """Quarantine of failing plugin instances and interruption of hung hooks."""
    metrics: MetricsSettings = field(factory=MetricsSettings)
    """The HTTP server of ``/metrics``, ``/healthz`` and ``/readyz``."""
    logging: LoggingSettings = field(factory=LoggingSettings)
    """The worker's log lines."""
    control: ControlSettings = field(factory=ControlSettings)
    """Reaching a running worker (``claimx-worker reload``)."""
    tables: TablesSettings = field(factory=TablesSettings)
    """The table writer (``claimx-worker tables run``): Delta Lake tables, batching, storage."""


PLUGINS_DIR_KEY = "kafka.claimx.enrichment_worker.processing.plugins_dir"
"""The key of the plugin instances directory (``--plugins-dir``, ``PLUGINS_DIR``)."""

SHORT_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "KAFKA_BOOTSTRAP_SERVERS": "kafka.bootstrap_servers",
        "CLAIMX_API_URL": "claimx_api.base_url",
        "CLAIMX_API_TOKEN": "claimx_api.token",
        "PLUGINS_DIR": PLUGINS_DIR_KEY,
        "METRICS_HOST": "metrics.host",
        "METRICS_PORT": "metrics.port",
        "LOG_LEVEL": "logging.level",
        "LOG_FORMAT": "logging.format",
    }
)
"""Environment variable -> setting key, beside the naming rule (which wins when both are set)."""
