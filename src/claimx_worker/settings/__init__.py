"""The worker's settings: the one place that composes the settings classes each subsystem owns,
and reads them from the defaults, a file, the environment and options.

The sections (:mod:`~claimx_worker.settings.worker`)::

    kafka: {...}       # claimx_worker.kafka.settings.KafkaSettings
    claimx_api: {...}  # claimx_worker.claimx.settings.ApiSettings
    actions: {...}     # claimx_worker.actions.settings.ActionSettings
    plugins: {...}     # claimx_worker.plugins.settings.PluginSettings
    metrics: {...}     # claimx_worker.observability.settings.MetricsSettings
    logging: {...}     # claimx_worker.observability.settings.LoggingSettings
    control: {...}     # claimx_worker.settings.control.ControlSettings

- :mod:`~claimx_worker.settings.loading`: the sources and their precedence (option > environment
  > file > default), the environment naming rule, where each value came from.
- :mod:`~claimx_worker.settings.schema`: every setting with its type, default and description.
- :mod:`~claimx_worker.settings.reference`: ``docs/settings.md`` and the file ``config init``
  writes, generated from the schema; :mod:`~claimx_worker.settings.effective`: ``config show``.
"""

from __future__ import annotations

from claimx_worker.settings.loading import (
    LoadedSettings,
    Override,
    load_settings,
    load_worker_config,
    set_overrides,
)
from claimx_worker.settings.schema import ENV_PREFIX, env_name
from claimx_worker.settings.worker import PLUGINS_DIR_KEY, SHORT_NAMES, WorkerSettings

__all__ = [
    "ENV_PREFIX",
    "PLUGINS_DIR_KEY",
    "SHORT_NAMES",
    "LoadedSettings",
    "Override",
    "WorkerSettings",
    "env_name",
    "load_settings",
    "load_worker_config",
    "set_overrides",
]
