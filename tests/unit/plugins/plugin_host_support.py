"""Helpers of the plugin-host tests: instance directories and events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from claimx_worker import ClaimXEvent, EntityRows, ProjectRow, TaskRow
from claimx_worker.config.problems import ConfigError
from claimx_worker.plugins.host import PluginHost

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "plugin_host"
SAMPLE_MODULE = "claimx_test_plugins"


def sample(cls: str, **keys: Any) -> dict[str, Any]:
    """Instance keys for a class of the sample plugin module."""
    return {"module": SAMPLE_MODULE, "class": cls, **keys}


def write_instances(root: Path, instances: Mapping[str, Mapping[str, Any]]) -> Path:
    """One ``<dir>/config.yaml`` per entry (JSON is YAML); returns ``root``."""
    for directory, keys in instances.items():
        (root / directory).mkdir(parents=True)
        (root / directory / "config.yaml").write_text(json.dumps(keys))
    return root


def task_event(event_id: str = "evt-1", project_id: str = "12345") -> ClaimXEvent:
    """A ``CUSTOM_TASK_COMPLETED`` event."""
    return ClaimXEvent(
        event_id=event_id,
        event_type="CUSTOM_TASK_COMPLETED",
        project_id=project_id,
        task_assignment_id="9001",
        created_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    )


def task_rows(project_id: str = "12345") -> EntityRows:
    """Rows of an enriched task event: one task and its project."""
    return EntityRows(
        tasks=(TaskRow(assignment_id=9001, task_id=456, project_id=project_id),),
        projects=(ProjectRow(project_id=project_id, project_number="CLM-1"),),
    )


def journal() -> list[str]:
    """The lifecycle calls of every ``EchoPlugin`` instance so far (``load a``, ``unload a``)."""
    import claimx_test_plugins  # type: ignore[import-not-found]

    return list(claimx_test_plugins.EchoPlugin.journal)


async def start_failure(host: PluginHost) -> str:
    """The report of the ConfigError that ``host.start()`` must raise."""
    with pytest.raises(ConfigError) as info:
        await host.start()
    return str(info.value)
