"""``claimx-worker simulate`` lists a plugin's row change with its columns."""

from __future__ import annotations

from claimx_worker import ChangeRows
from claimx_worker.model import Stage
from claimx_worker.plugins.runner import PluginAction
from claimx_worker.simulate.report import describe_action
from claimx_worker.testing import make_event


def test_simulate_lists_a_row_change_with_its_columns() -> None:
    change = ChangeRows(rows="tasks", columns={"sla_band": "gold"}, where={"task_id": 456})
    described = describe_action(
        make_event("CUSTOM_TASK_COMPLETED"),
        Stage.ENRICHMENT_COMPLETE,
        PluginAction("shaper", 0, change),
        "shaper",
    )
    assert described == {
        "instance": "shaper",
        "stage": "enrichment_complete",
        "index": 0,
        "type": "change_rows",
        "rows": "tasks",
        "columns": {"sla_band": "gold"},
        "where": {"task_id": 456},
    }
