"""The task trigger plugin passes the plugin contract suite with its shipped instance config."""

from __future__ import annotations

from pathlib import Path

from claimx_worker.testing import PluginContract

SHIPPED = Path(__file__).resolve().parents[2] / "plugins" / "config" / "task_trigger" / "config.yaml"


class TestTaskTriggerContract(PluginContract):
    """The shipped ``plugins/config/task_trigger/config.yaml``, variables at their defaults."""

    config_path = SHIPPED
    env = {}
