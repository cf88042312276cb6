"""The task trigger plugin passes the plugin contract suite with its shipped instance config."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from claimx_worker.testing import PluginContract

SHIPPED = Path(__file__).resolve().parents[2] / "plugins/config/task_trigger/config.yaml"


class TestTaskTriggerContract(PluginContract):
    """``plugins/config/task_trigger/config.yaml`` as shipped: the webhook token and URLs set,
    the topics at their defaults (``${VAR:-default}``)."""

    config_path = SHIPPED
    env: ClassVar[dict[str, str]] = {
        "WEBHOOK_TOKEN": "contract-token",
        "TASK_TRIGGER_WEBHOOK_URL": "https://hooks.example.com/task-trigger",
        "DAMAGE_ASSESSMENT_WEBHOOK_URL": "https://hooks.example.com/damage-assessment",
    }
