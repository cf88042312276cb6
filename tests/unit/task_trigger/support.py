"""Enriched task events as the ClaimX enrichment produces them, for the task trigger's tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from claimx_worker import ClaimXEvent, EntityRows, ProjectRow, TaskRow
from claimx_worker.model import ContactRow, ExternalLinkRow, TaskTemplateRow
from claimx_worker.model.rows import ROW_LISTS, row_columns

ENRICHED_AT = datetime(2024, 5, 1, 12, 0, 0, 250_000, tzinfo=UTC)
PROJECT_ID = "12345"
ASSIGNMENT_ID = 98765
PAYLOAD_BASE_KEYS = (
    "trigger_name",
    "event_id",
    "event_type",
    "project_id",
    "task_id",
    "assignment_id",
    "task_name",
    "task_status",
    "timestamp",
)
"""The keys every task trigger payload starts with, in payload order."""
PAYLOAD_KEYS = (*PAYLOAD_BASE_KEYS, "task", "project")
"""The keys of a payload that includes the task and the project."""


def task_event(
    event_type: str = "CUSTOM_TASK_COMPLETED",
    *,
    event_id: str = "evt-8c1e5d0b2f",
    project_id: str = PROJECT_ID,
    assignment_id: int = ASSIGNMENT_ID,
) -> ClaimXEvent:
    """A task event as consumed from Kafka."""
    return ClaimXEvent(
        event_id=event_id,
        event_type=event_type,
        project_id=project_id,
        created_at=datetime(2024, 5, 1, 11, 59, 59, tzinfo=UTC),
        task_assignment_id=str(assignment_id),
    )


def task_row(
    task_id: int = 456,
    *,
    project_id: str = PROJECT_ID,
    assignment_id: int = ASSIGNMENT_ID,
    status: str = "COMPLETED",
    task_name: str = "Photo Documentation",
    event_id: str = "evt-8c1e5d0b2f",
) -> TaskRow:
    """A fully populated task row (template ``task_id``)."""
    return TaskRow(
        assignment_id=assignment_id,
        task_id=task_id,
        project_id=project_id,
        task_name=task_name,
        form_id="form-77",
        assignee_id=501,
        assignor_id=502,
        assignor_email="adjuster@example.com",
        date_assigned=datetime(2024, 4, 30, 9, 15, 0, tzinfo=UTC),
        date_completed=datetime(2024, 5, 1, 11, 59, 58, tzinfo=UTC),
        status=status,
        pdf_project_media_id=9001,
        form_response_id="resp-1",
        stp_enabled=False,
        mfn="MFN-1",
        task_url="https://www.claimxperience.com/tasks/98765",
        event_id=event_id,
        created_at=ENRICHED_AT,
        updated_at=ENRICHED_AT,
        last_enriched_at=ENRICHED_AT,
    )


def project_row(project_id: str = PROJECT_ID) -> ProjectRow:
    """A project row with the columns a project export fills."""
    return ProjectRow(
        project_id=project_id,
        project_number="CLM-2024-0042",
        status="OPEN",
        created_date=datetime(2024, 4, 29, 8, 0, 0, tzinfo=UTC),
        date_of_loss=datetime(2024, 4, 27, 0, 0, 0, tzinfo=UTC),
        type_of_loss="WIND",
        customer_first_name="Ada",
        customer_last_name="Lovelace",
        city="Springfield",
        state_province="IL",
        company_name="Example Insurance",
        event_id="evt-8c1e5d0b2f",
        created_at=ENRICHED_AT,
        updated_at=ENRICHED_AT,
        last_enriched_at=ENRICHED_AT,
    )


def task_rows(task: TaskRow, *, with_project: bool = True) -> EntityRows:
    """The rows a task event's enrichment produces: task, template, link, contact, project."""
    return EntityRows(
        tasks=(task,),
        task_templates=(TaskTemplateRow(task_id=task.task_id, name=task.task_name, enabled=True),),
        external_links=(
            ExternalLinkRow(
                link_id=7,
                assignment_id=task.assignment_id,
                project_id=task.project_id,
                url="https://example.com/l/7",
            ),
        ),
        contacts=(
            ContactRow(
                project_id=task.project_id,
                contact_email="ph@example.com",
                contact_type="POLICYHOLDER",
                task_assignment_id=task.assignment_id,
            ),
        ),
        projects=(project_row(task.project_id),) if with_project else (),
    )


def columns_of(row: TaskRow | ProjectRow) -> dict[str, Any]:
    """``row`` as the entity-rows message writes it (what the trigger reads)."""
    return row_columns(row)


def as_enriched(rows: EntityRows) -> EntityRows:
    """``rows`` made as enrichment makes them: from the columns the message writes."""
    return EntityRows.from_columns(**{name: rows.columns(name) for name in ROW_LISTS})
