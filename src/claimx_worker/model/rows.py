"""Entity rows produced by enrichment; a downstream writer merges them into tables by merge key.

Column names and merge keys follow the operators' tables (see CLAIMX.md). Every row carries the
source ``event_id`` and the audit columns ``created_at``, ``updated_at`` and ``last_enriched_at``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

import attrs
from attrs import field, frozen

Columns = dict[str, Any]
"""One row as the columns of the entity-rows message: column name -> value (a ``datetime`` is
written as ISO-8601 text)."""


@frozen(kw_only=True)
class ProjectRow:
    """A row of ``claimx_projects``, merged on ``project_id``."""

    project_id: str
    project_number: str | None = None
    master_file_name: str | None = None
    secondary_number: str | None = None
    status: str | None = None
    created_date: datetime | None = None
    date_of_loss: datetime | None = None
    type_of_loss: str | None = None
    cause_of_loss: str | None = None
    loss_description: str | None = None
    year_built: int | None = None
    square_footage: float | None = None
    customer_first_name: str | None = None
    customer_last_name: str | None = None
    custom_business_name: str | None = None
    business_line_type: str | None = None
    street1: str | None = None
    street2: str | None = None
    city: str | None = None
    state_province: str | None = None
    zip_postcode: str | None = None
    county: str | None = None
    country: str | None = None
    primary_email: str | None = None
    primary_phone: str | None = None
    date_received: datetime | None = None
    date_contacted: datetime | None = None
    planned_inspection_date: datetime | None = None
    date_inspected: datetime | None = None
    appointment_date: datetime | None = None
    custom_attribute_1: str | None = None
    custom_attribute_2: str | None = None
    custom_attribute_3: str | None = None
    custom_external_unique_id: str | None = None
    company_name: str | None = None
    policyholder_invited_at: datetime | None = None
    policyholder_joined_at: datetime | None = None
    xa_autolink_fail: bool | None = None
    xa_autolink_fail_at: datetime | None = None
    event_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_enriched_at: datetime | None = None


AUDIT_COLUMNS = frozenset({"event_id", "created_at", "updated_at", "last_enriched_at"})
"""The columns every row carries besides its own."""

EVENT_DRIVEN_PROJECT_COLUMNS = frozenset(
    {"policyholder_invited_at", "policyholder_joined_at", "xa_autolink_fail", "xa_autolink_fail_at"}
)
"""Project columns set from events, never by the API: omitted from a message when unset."""


@frozen(kw_only=True)
class ContactRow:
    """A row of ``claimx_contacts``, merged on ``(project_id, contact_email, contact_type)``."""

    project_id: str
    contact_email: str | None
    contact_type: str  # POLICYHOLDER or CLAIM_REP
    first_name: str | None = None
    last_name: str | None = None
    phone_number: str | None = None
    phone_country_code: str | None = None
    is_primary_contact: bool = False
    task_assignment_id: int | None = None
    event_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_enriched_at: datetime | None = None


@frozen(kw_only=True)
class MediaRow:
    """A row of ``claimx_attachment_metadata``, merged on ``media_id``."""

    media_id: str
    project_id: str
    task_assignment_id: int | None = None
    file_type: str | None = None
    file_name: str | None = None
    description: str | None = None
    comment: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    gps_source: str | None = None
    taken_date: datetime | None = None
    full_download_link: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    event_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_enriched_at: datetime | None = None


@frozen(kw_only=True)
class TaskRow:
    """A row of ``claimx_tasks``, merged on ``assignment_id``. ``task_id`` is the template id."""

    assignment_id: int
    task_id: int
    project_id: str
    task_name: str | None = None
    form_id: str | None = None
    assignee_id: int | None = None
    assignor_id: int | None = None
    assignor_email: str | None = None
    date_assigned: datetime | None = None
    date_completed: datetime | None = None
    cancelled_date: datetime | None = None
    status: str | None = None
    pdf_project_media_id: int | None = None
    form_response_id: str | None = None
    stp_enabled: bool | None = None
    mfn: str | None = None
    task_url: str | None = None
    event_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_enriched_at: datetime | None = None


@frozen(kw_only=True)
class TaskTemplateRow:
    """A row of ``claimx_task_templates``, merged on ``task_id``."""

    task_id: int
    comp_id: int | None = None
    name: str | None = None
    description: str | None = None
    form_id: str | None = None
    form_name: str | None = None
    enabled: bool | None = None
    is_default: bool | None = None
    modified_by: str | None = None
    modified_date: datetime | None = None
    event_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_enriched_at: datetime | None = None


@frozen(kw_only=True)
class ExternalLinkRow:
    """A row of ``claimx_external_links``, merged on ``link_id``."""

    link_id: int
    assignment_id: int
    project_id: str
    link_code: str | None = None
    url: str | None = None
    event_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_enriched_at: datetime | None = None


@frozen(kw_only=True)
class VideoCollabRow:
    """A row of ``claimx_video_collab``, merged on ``video_collaboration_id``."""

    video_collaboration_id: str
    project_id: str | None = None
    claim_id: str | None = None
    mfn: str | None = None
    claim_number: str | None = None
    policy_number: str | None = None
    claim_rep_full_name: str | None = None
    number_of_videos: int | None = None
    number_of_photos: int | None = None
    session_count: int | None = None
    total_time_seconds: float | None = None
    created_date: datetime | None = None
    company_name: str | None = None
    event_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_enriched_at: datetime | None = None


@frozen(kw_only=True)
class DownloadTask:
    """A media file to download; one per media row with a download link."""

    media_id: str
    project_id: str
    download_url: str = field(repr=False)
    blob_path: str
    file_type: str | None
    file_name: str | None
    event_id: str
    expires_at: datetime | None = None


@frozen(kw_only=True)
class EntityRows:
    """The seven row lists one event produced, plus its download tasks.

    Enrichment builds them with :meth:`from_columns`, and the entity-rows message is encoded from
    those columns as they are; rows built from typed rows (as tests do) get their columns from
    :func:`row_columns`.
    """

    projects: tuple[ProjectRow, ...] = ()
    contacts: tuple[ContactRow, ...] = ()
    media: tuple[MediaRow, ...] = ()
    tasks: tuple[TaskRow, ...] = ()
    task_templates: tuple[TaskTemplateRow, ...] = ()
    external_links: tuple[ExternalLinkRow, ...] = ()
    video_collab: tuple[VideoCollabRow, ...] = ()
    download_tasks: tuple[DownloadTask, ...] = ()
    _built_from: Mapping[str, Sequence[Columns]] | None = field(
        default=None, init=False, eq=False, repr=False
    )

    @classmethod
    def from_columns(
        cls, *, download_tasks: tuple[DownloadTask, ...] = (), **lists: Sequence[Columns]
    ) -> EntityRows:
        """Rows from row lists given as columns (``projects=[{"project_id": ...}]``); the columns
        are kept for the entity-rows message, so treat them as read-only from here on."""
        typed = {
            name: tuple(ROW_LISTS[name].row_class(**columns) for columns in rows)
            for name, rows in lists.items()
        }
        rows = cls(download_tasks=download_tasks, **typed)
        object.__setattr__(rows, "_built_from", lists)
        return rows

    def columns(self, name: str) -> Sequence[Columns]:
        """Row list ``name`` as the columns of the entity-rows message (read-only)."""
        if self._built_from is not None:
            return self._built_from.get(name, ())
        return [row_columns(row) for row in getattr(self, name)]

    @property
    def project(self) -> ProjectRow | None:
        """The first project row, if any."""
        return self.projects[0] if self.projects else None

    @property
    def first_task(self) -> TaskRow | None:
        """The first task row, if any (task events produce exactly one)."""
        return self.tasks[0] if self.tasks else None

    @property
    def is_empty(self) -> bool:
        """True when the event produced no row and no download task."""
        return not any(
            (
                self.projects,
                self.contacts,
                self.media,
                self.tasks,
                self.task_templates,
                self.external_links,
                self.video_collab,
                self.download_tasks,
            )
        )


API_PROJECT_COLUMNS = tuple(
    name
    for name in attrs.fields_dict(ProjectRow)
    if name != "project_id" and name not in AUDIT_COLUMNS | EVENT_DRIVEN_PROJECT_COLUMNS
)
"""The project columns read from the project export."""


def row_columns(row: Any) -> Columns:
    """The columns of a typed row as the entity-rows message writes them.

    A project row leaves out its unset event-driven columns (a later project export must not
    clear ``policyholder_joined_at``); one with no API column set (as built for
    ``PROJECT_AUTO_XA_LINKING_UNSUCCESSFUL``) leaves out every unset column.
    """
    columns = attrs.asdict(row, recurse=False)
    if not isinstance(row, ProjectRow):
        return columns
    minimal = all(columns[name] is None for name in API_PROJECT_COLUMNS)
    return {
        name: value
        for name, value in columns.items()
        if value is not None or not (minimal or name in EVENT_DRIVEN_PROJECT_COLUMNS)
    }


@frozen
class RowList:
    """One of the seven row lists of :class:`EntityRows`: its row class and the table it is
    merged into, on which key (see CLAIMX.md)."""

    row_class: type
    table: str
    merge_key: tuple[str, ...]


ROW_LISTS: Mapping[str, RowList] = MappingProxyType(
    {
        "projects": RowList(ProjectRow, "claimx_projects", ("project_id",)),
        "contacts": RowList(
            ContactRow, "claimx_contacts", ("project_id", "contact_email", "contact_type")
        ),
        "media": RowList(MediaRow, "claimx_attachment_metadata", ("media_id",)),
        "tasks": RowList(TaskRow, "claimx_tasks", ("assignment_id",)),
        "task_templates": RowList(TaskTemplateRow, "claimx_task_templates", ("task_id",)),
        "external_links": RowList(ExternalLinkRow, "claimx_external_links", ("link_id",)),
        "video_collab": RowList(VideoCollabRow, "claimx_video_collab", ("video_collaboration_id",)),
    }
)
"""Row list name -> :class:`RowList`, in message order."""
