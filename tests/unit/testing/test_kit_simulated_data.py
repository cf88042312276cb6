"""The simulator's generated data is coherent, as a real ClaimX export would be."""

from __future__ import annotations

from datetime import datetime

from claimx_worker.testing.simulated_data import DEFAULT_TASK_TEMPLATE_IDS, SimulatedData


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_task_is_completed_after_it_was_assigned() -> None:
    data = SimulatedData(1)
    completed = 0
    for assignment_id in range(12345_000, 12345_300):
        task = data.assignment(assignment_id, DEFAULT_TASK_TEMPLATE_IDS)
        if task["status"] != "COMPLETED":
            assert task["dateCompleted"] is None
            continue
        completed += 1
        assert when(task["dateCompleted"]) > when(task["dateAssigned"]), task
    assert completed > 100  # about half of them
