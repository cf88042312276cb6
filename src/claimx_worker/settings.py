"""The worker's settings (``config/claimx_config.yaml``) and :func:`load_settings`: the one place
that composes the settings classes each subsystem owns.

The file keeps the operators' nesting::

    kafka: {...}       # claimx_worker.kafka.settings.KafkaSettings
    claimx_api: {...}  # claimx_worker.claimx.settings.ApiSettings
    actions: {...}     # claimx_worker.actions.settings.ActionSettings
    metrics: {port}    # claimx_worker.observability.settings.MetricsSettings

``KAFKA_BOOTSTRAP_SERVERS`` in the environment overrides ``kafka.bootstrap_servers``; any other
value can come from the environment with ``${VAR}`` / ``${VAR:-default}`` in the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs
from attrs import field, frozen

from claimx_worker.actions.settings import ActionSettings
from claimx_worker.claimx.settings import ApiSettings
from claimx_worker.config.structuring import LoadedConfig, load_config_file
from claimx_worker.kafka.settings import KafkaSettings
from claimx_worker.observability.settings import MetricsSettings

BOOTSTRAP_SERVERS_ENV = "KAFKA_BOOTSTRAP_SERVERS"
"""Environment variable that overrides ``kafka.bootstrap_servers``."""


@frozen(kw_only=True)
class WorkerSettings:
    """Everything ``claimx-worker run`` needs, as read from ``config/claimx_config.yaml``."""

    kafka: KafkaSettings = field(factory=KafkaSettings)
    claimx_api: ApiSettings = field(factory=ApiSettings)
    actions: ActionSettings = field(factory=ActionSettings)
    metrics: MetricsSettings = field(factory=MetricsSettings)


def load_worker_config(path: Path, env: Mapping[str, str]) -> LoadedConfig[WorkerSettings]:
    """Read the worker settings file, with the secret values found in it (for log redaction).

    Raises :class:`~claimx_worker.config.problems.ConfigError` listing every problem as
    ``file:line: key: message`` (unknown keys, wrong types, unset variables, bad values).
    """
    loaded = load_config_file(path, WorkerSettings, env=env)
    servers = env.get(BOOTSTRAP_SERVERS_ENV, "").strip()
    if not servers:
        return loaded
    settings = loaded.value
    kafka = attrs.evolve(settings.kafka, bootstrap_servers=servers)
    return LoadedConfig(attrs.evolve(settings, kafka=kafka), loaded.secrets)


def load_settings(path: Path, env: Mapping[str, str]) -> WorkerSettings:
    """The worker settings in ``path``; see :func:`load_worker_config`."""
    return load_worker_config(path, env).value
