"""Entity rows produced by enrichment; a downstream writer merges them into tables by merge key.

Column names and merge keys follow the operators' tables (see CLAIMX.md). Every row carries the
source ``event_id`` and the audit columns ``created_at``, ``updated_at`` and ``last_enriched_at``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, get_args, get_type_hints

import attrs
from attrs import field, frozen

from claimx_worker.model.datetimes import format_datetime

Columns = dict[str, Any]
"""One row as the columns of the entity-rows message: column name -> JSON value (a datetime as
ISO-8601 text in UTC, to the millisecond)."""


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


class EntityRows:
    """The seven row lists one event produced, plus its download tasks.

    Enrichment builds each list as the columns the entity-rows message writes
    (:meth:`from_columns`: datetimes as ISO-8601 text, to the millisecond), and a list's typed
    rows (``rows.tasks``) are made from those columns when first read, so they hold what is
    written. Tests and plugins build them from typed rows: ``EntityRows(tasks=(TaskRow(...),))``.
    Immutable; equal when they write the same rows and download tasks.
    """

    __slots__ = ("_columns", "_download_tasks", "_typed")

    def __init__(
        self,
        *,
        projects: Sequence[ProjectRow] = (),
        contacts: Sequence[ContactRow] = (),
        media: Sequence[MediaRow] = (),
        tasks: Sequence[TaskRow] = (),
        task_templates: Sequence[TaskTemplateRow] = (),
        external_links: Sequence[ExternalLinkRow] = (),
        video_collab: Sequence[VideoCollabRow] = (),
        download_tasks: Sequence[DownloadTask] = (),
    ) -> None:
        lists = (projects, contacts, media, tasks, task_templates, external_links, video_collab)
        self._typed = {name: tuple(rows) for name, rows in zip(ROW_LISTS, lists, strict=True)}
        self._columns: dict[str, Sequence[Columns]] = {}
        self._download_tasks = tuple(download_tasks)

    @classmethod
    def from_columns(
        cls, *, download_tasks: tuple[DownloadTask, ...] = (), **lists: Sequence[Columns]
    ) -> EntityRows:
        """Rows from row lists given as the columns the message writes, datetimes as ISO-8601
        text (``projects=[{"project_id": "1", ...}]``); the columns are written as they are, so
        treat them as read-only from here on."""
        if not lists.keys() <= ROW_LISTS.keys():
            raise TypeError(f"not row lists: {sorted(lists.keys() - ROW_LISTS.keys())}")
        rows = cls.__new__(cls)
        rows._typed = {}
        rows._columns = dict(lists)
        rows._download_tasks = download_tasks
        return rows

    def columns(self, name: str) -> Sequence[Mapping[str, Any]]:
        """Row list ``name`` as the entity-rows message writes it. Read-only: the worker writes
        these very rows, so a plugin changes them with :class:`~claimx_worker.ChangeRows` (the
        testing kit's harness reports a hook that changes them)."""
        found = self._columns.get(name)
        if found is None:
            if name not in ROW_LISTS:
                raise KeyError(f"{name!r} is not a row list; one of: {', '.join(ROW_LISTS)}")
            found = self._columns[name] = [row_columns(row) for row in self._typed.get(name, ())]
        return found

    def _rows(self, name: str) -> tuple[Any, ...]:
        found = self._typed.get(name)
        if found is None:
            row_class = ROW_LISTS[name].row_class
            found = tuple(_typed_row(row_class, columns) for columns in self._columns.get(name, ()))
            self._typed[name] = found
        return found

    @property
    def projects(self) -> tuple[ProjectRow, ...]:
        """The ``claimx_projects`` rows."""
        return self._rows("projects")

    @property
    def contacts(self) -> tuple[ContactRow, ...]:
        """The ``claimx_contacts`` rows."""
        return self._rows("contacts")

    @property
    def media(self) -> tuple[MediaRow, ...]:
        """The ``claimx_attachment_metadata`` rows."""
        return self._rows("media")

    @property
    def tasks(self) -> tuple[TaskRow, ...]:
        """The ``claimx_tasks`` rows."""
        return self._rows("tasks")

    @property
    def task_templates(self) -> tuple[TaskTemplateRow, ...]:
        """The ``claimx_task_templates`` rows."""
        return self._rows("task_templates")

    @property
    def external_links(self) -> tuple[ExternalLinkRow, ...]:
        """The ``claimx_external_links`` rows."""
        return self._rows("external_links")

    @property
    def video_collab(self) -> tuple[VideoCollabRow, ...]:
        """The ``claimx_video_collab`` rows."""
        return self._rows("video_collab")

    @property
    def download_tasks(self) -> tuple[DownloadTask, ...]:
        """The media files to download."""
        return self._download_tasks

    @property
    def project(self) -> ProjectRow | None:
        """The first project row, if any."""
        projects = self.projects
        return projects[0] if projects else None

    @property
    def first_task(self) -> TaskRow | None:
        """The first task row, if any (task events produce exactly one)."""
        tasks = self.tasks
        return tasks[0] if tasks else None

    @property
    def is_empty(self) -> bool:
        """True when the event produced no row and no download task."""
        return not (
            self._download_tasks or any(self._typed.values()) or any(self._columns.values())
        )

    def replace(self, **lists: Sequence[Any]) -> EntityRows:
        """A copy with the row lists (typed rows) or ``download_tasks`` given replaced."""
        current = {name: getattr(self, name) for name in ROW_CLASSES}
        return EntityRows(**{**current, **lists})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EntityRows):
            return NotImplemented
        return self._download_tasks == other._download_tasks and all(
            list(self.columns(name)) == list(other.columns(name)) for name in ROW_LISTS
        )

    __hash__ = None  # type: ignore[assignment]  # equal rows may differ in form

    def __repr__(self) -> str:
        shown = (f"{name}={rows!r}" for name in ROW_CLASSES if (rows := getattr(self, name)))
        return f"EntityRows({', '.join(shown)})"


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
    columns = {
        name: format_datetime(value) if isinstance(value, datetime) else value
        for name, value in attrs.asdict(row, recurse=False).items()
    }
    if not isinstance(row, ProjectRow):
        return columns
    minimal = all(columns[name] is None for name in API_PROJECT_COLUMNS)
    return {
        name: value
        for name, value in columns.items()
        if value is not None or not (minimal or name in EVENT_DRIVEN_PROJECT_COLUMNS)
    }


def _typed_row(row_class: type, columns: Columns) -> Any:
    """A row of ``row_class`` from its columns as written (datetimes parsed)."""
    dates = _DATETIME_COLUMNS[row_class]
    return row_class(
        **{
            name: datetime.fromisoformat(value) if name in dates and value is not None else value
            for name, value in columns.items()
        }
    )


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

ROW_CLASSES: Mapping[str, type] = MappingProxyType(
    {name: row_list.row_class for name, row_list in ROW_LISTS.items()}
    | {"download_tasks": DownloadTask}
)
"""Every list of :class:`EntityRows` (the seven row lists, then the download tasks) -> the
class of its items."""


_DATETIME_COLUMNS: Mapping[type, frozenset[str]] = {
    row_list.row_class: frozenset(
        name
        for name, hint in get_type_hints(row_list.row_class).items()
        if hint is datetime or datetime in get_args(hint)
    )
    for row_list in ROW_LISTS.values()
}
"""Row class -> the names of its datetime columns."""
