"""The plugin host: discovery, instances from ``plugins/config/``, pluggy, the stage runner."""

from claimx_worker.plugins.base import Plugin
from claimx_worker.plugins.discovery import ENTRY_POINT_GROUP, InstalledPlugin, installed_plugins
from claimx_worker.plugins.host import PluginHost
from claimx_worker.plugins.instances import InstanceSpec
from claimx_worker.plugins.loading import PluginInstance, PluginSet, load_plugins
from claimx_worker.plugins.metrics import ErrorKind, PluginMetrics
from claimx_worker.plugins.runner import DEFAULT_BUDGET_MS, PluginAction, StageResult

__all__ = [
    "DEFAULT_BUDGET_MS",
    "ENTRY_POINT_GROUP",
    "ErrorKind",
    "InstalledPlugin",
    "InstanceSpec",
    "Plugin",
    "PluginAction",
    "PluginHost",
    "PluginInstance",
    "PluginMetrics",
    "PluginSet",
    "StageResult",
    "installed_plugins",
    "load_plugins",
]
