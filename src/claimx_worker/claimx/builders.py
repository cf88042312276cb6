"""Entity rows and download tasks built from ClaimX API responses (column mapping only, no I/O).

Rows are built as their columns (:data:`~claimx_worker.model.rows.Columns`), in the order of the
row class's fields and with datetimes as the text written, so that the entity-rows message is
encoded from them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from attrs import field, frozen

from claimx_worker.claimx.parsing import (
    Record,
    boolean,
    identifier,
    integer,
    mapping,
    number,
    record,
    records,
    text,
    timestamp,
)
from claimx_worker.model import (
    ClaimXEvent,
    DownloadTask,
)
from claimx_worker.model.datetimes import datetime_text, format_datetime
from claimx_worker.model.rows import Columns

POLICYHOLDER = "POLICYHOLDER"
CLAIM_REP = "CLAIM_REP"


@frozen(kw_only=True)
class Stamp:
    """The columns every row carries: the source event and the audit times."""

    event_id: str
    now: datetime
    now_text: str = field(init=False)
    """``now`` as written."""
    columns: Mapping[str, Any] = field(init=False)
    """``event_id``, ``created_at``, ``updated_at`` and ``last_enriched_at``."""

    @now_text.default
    def _now_text(self) -> str:
        return datetime_text(self.now)

    @columns.default
    def _columns(self) -> Mapping[str, Any]:
        return {
            "event_id": self.event_id,
            "created_at": self.now_text,
            "updated_at": self.now_text,
            "last_enriched_at": self.now_text,
        }


@frozen(kw_only=True)
class ProjectExport:
    """A ``GET /export/project/{id}`` response, located and parsed once (it is shared by every
    event that reads it from the cache).

    ``columns`` are the project row's API columns, as written (read-only: a plain dict, as
    every project row of the export is merged from it); empty when the response held no project.
    """

    project: Record
    beside: Record
    columns: Mapping[str, Any]

    @classmethod
    def parse(cls, payload: Any) -> ProjectExport:
        """Accept the project under ``data.project``, under ``project``, or at top level."""
        inner = record(payload, "data")
        project = mapping(inner.get("project")) if "project" in inner else inner
        company = text(inner.get("companyName")) or text(project.get("companyName"))
        columns = _project_columns(project, company) if project else {}
        return cls(project=project, beside=inner, columns=columns)

    @classmethod
    def empty(cls) -> ProjectExport:
        """An export without project data (minimal rows are built from it)."""
        return cls(project={}, beside={}, columns={})

    def team_members(self) -> list[Record]:
        """The ``teamMembers`` list, wherever it sits."""
        return records(self.beside.get("teamMembers") or self.project.get("teamMembers"))


def _primary_email(customer: Record) -> str | None:
    emails = records(customer.get("emails"))
    chosen = next((e for e in emails if boolean(e.get("primary"))), emails[0] if emails else {})
    return text(chosen.get("emailAddress"))


def _first_phone(customer: Record) -> Record:
    phones = records(customer.get("phones"))
    return phones[0] if phones else {}


def _project_columns(project: Record, company_name: str | None) -> dict[str, Any]:
    customer = mapping(project.get("customerInformation"))
    address = mapping(project.get("address"))
    return {
        "project_number": text(project.get("projectNumber")),
        "master_file_name": text(project.get("mfn")),
        "secondary_number": text(project.get("secondaryNumber")),
        "status": text(project.get("status")),
        "created_date": _when(project.get("createdDate")),
        "date_of_loss": _when(project.get("dateOfLoss")),
        "type_of_loss": text(project.get("typeOfLoss")),
        "cause_of_loss": text(project.get("causeOfLoss")),
        "loss_description": text(project.get("lossDescription")),
        "year_built": integer(project.get("yearBuilt")),
        "square_footage": number(project.get("squareFootage")),
        "customer_first_name": text(customer.get("firstName")),
        "customer_last_name": text(customer.get("lastName")),
        "custom_business_name": text(customer.get("customBusinessName")),
        "business_line_type": text(customer.get("businessLineType")),
        "street1": text(address.get("street1")),
        "street2": text(address.get("street2")),
        "city": text(address.get("city")),
        "state_province": text(address.get("stateProvince")),
        "zip_postcode": text(address.get("zipPostcode")),
        "county": text(address.get("county")),
        "country": text(address.get("country")),
        "primary_email": _primary_email(customer),
        "primary_phone": text(_first_phone(customer).get("phoneNumber")),
        "date_received": _when(project.get("dateReceived")),
        "date_contacted": _when(project.get("dateContacted")),
        "planned_inspection_date": _when(project.get("plannedInspectionDate")),
        "date_inspected": _when(project.get("dateInspected")),
        "appointment_date": _when(project.get("appointmentDate")),
        "custom_attribute_1": text(project.get("customAttribute1")),
        "custom_attribute_2": text(project.get("customAttribute2")),
        "custom_attribute_3": text(project.get("customAttribute3")),
        "custom_external_unique_id": text(project.get("customExternalUniqueId")),
        "company_name": company_name,
    }


def project_row(
    export: ProjectExport, project_id: str, stamp: Stamp, **event_columns: Any
) -> Columns:
    """The ``claimx_projects`` row; ``event_columns`` are the event-driven columns laid over it.

    An export without project data yields a minimal row: only the columns the event sets. Unset
    event-driven columns are left out (a later export must not clear ``policyholder_joined_at``).
    """
    return {"project_id": project_id, **export.columns, **event_columns, **stamp.columns}


def _contact(
    project_id: str, email: str, contact_type: str, stamp: Stamp, **columns: Any
) -> Columns:
    """A ``claimx_contacts`` row: ``columns`` over the unset defaults."""
    return {
        "project_id": project_id,
        "contact_email": email,
        "contact_type": contact_type,
        "first_name": None,
        "last_name": None,
        "phone_number": None,
        "phone_country_code": None,
        "is_primary_contact": False,
        "task_assignment_id": None,
        **columns,
        **stamp.columns,
    }


def contact_rows(export: ProjectExport, project_id: str, stamp: Stamp) -> list[Columns]:
    """The policyholder (when the customer has an email) and one claim rep per team member."""
    rows: list[Columns] = []
    customer = mapping(export.project.get("customerInformation"))
    email = _primary_email(customer)
    if email:
        phone = _first_phone(customer)
        rows.append(
            _contact(
                project_id,
                email,
                POLICYHOLDER,
                stamp,
                first_name=text(customer.get("firstName")),
                last_name=text(customer.get("lastName")),
                phone_number=text(phone.get("phoneNumber")),
                phone_country_code=text(phone.get("phoneCountryCode")),
                is_primary_contact=True,
            )
        )
    for member in export.team_members():
        user_name = text(member.get("userName"))
        if user_name:
            rows.append(
                _contact(
                    project_id,
                    user_name,
                    CLAIM_REP,
                    stamp,
                    is_primary_contact=bool(boolean(member.get("primaryContact"))),
                )
            )
    return rows


def media_row(item: Record, project_id: str, stamp: Stamp) -> Columns | None:
    """The ``claimx_attachment_metadata`` row of one media item; ``None`` without a media id."""
    media_id = identifier(item.get("mediaID") or item.get("mediaId"))
    if media_id is None:
        return None
    return {
        "media_id": media_id,
        "project_id": project_id,
        "task_assignment_id": integer(item.get("taskAssignmentId")),
        "file_type": text(item.get("mediaType")),
        "file_name": text(item.get("mediaName")),
        "description": text(item.get("mediaDescription")),
        "comment": text(item.get("mediaComment")),
        "latitude": number(item.get("latitude")),
        "longitude": number(item.get("longitude")),
        "gps_source": text(item.get("gpsSource")),
        "taken_date": _when(item.get("takenDate")),
        "full_download_link": text(item.get("fullDownloadLink")),
        "expires_at": _when(item.get("expiresAt")),
        **stamp.columns,
    }


def _when(value: Any) -> str | None:
    """A timestamp as written (see :func:`~claimx_worker.claimx.parsing.timestamp`)."""
    parsed = timestamp(value)
    return None if parsed is None else format_datetime(parsed)


def _safe_file_name(name: str) -> str:
    cleaned = name.replace("/", "_").replace("\\", "_").strip()
    return cleaned.lstrip(".") or "_"


def download_task(row: Columns) -> DownloadTask | None:
    """The download task of a media row, or ``None`` when it has no download link.

    ``blob_path`` is ``<project_id>/media/<file name>`` (the media id when the name is missing;
    path separators in the name are replaced so it cannot escape the project's folder).
    """
    link = row["full_download_link"]
    if link is None:
        return None
    file_name, expires_at = row["file_name"], row["expires_at"]
    return DownloadTask(
        media_id=row["media_id"],
        project_id=row["project_id"],
        download_url=link,
        blob_path=f"{row['project_id']}/media/{_safe_file_name(file_name or row['media_id'])}",
        file_type=row["file_type"],
        file_name=file_name,
        event_id=row["event_id"],
        expires_at=None if expires_at is None else datetime.fromisoformat(expires_at),
    )


def task_row(
    assignment: Record, assignment_id: int, task_id: int, event: ClaimXEvent, stamp: Stamp
) -> Columns:
    """The ``claimx_tasks`` row of a custom task assignment (``task_id`` is the template id)."""
    return {
        "assignment_id": assignment_id,
        "task_id": task_id,
        "project_id": event.project_id,
        "task_name": text(assignment.get("taskName")),
        "form_id": text(assignment.get("formId")),
        "assignee_id": integer(assignment.get("assigneeId")),
        "assignor_id": integer(assignment.get("assignorId")),
        "assignor_email": text(assignment.get("assignor")),
        "date_assigned": _when(assignment.get("dateAssigned")),
        "date_completed": _when(assignment.get("dateCompleted")),
        "cancelled_date": _when(assignment.get("cancelledDate")),
        "status": text(assignment.get("status")),
        "pdf_project_media_id": integer(assignment.get("pdfProjectMediaId")),
        "form_response_id": text(assignment.get("formResponseId")),
        "stp_enabled": boolean(assignment.get("stpEnabled")),
        "mfn": text(assignment.get("mfn")),
        "task_url": text(assignment.get("url")),
        **stamp.columns,
    }


def task_template_row(template: Record, stamp: Stamp) -> Columns | None:
    """The ``claimx_task_templates`` row of a nested ``customTask``; ``None`` without a task id."""
    task_id = integer(template.get("taskId"))
    if task_id is None:
        return None
    return {
        "task_id": task_id,
        "comp_id": integer(template.get("compId")),
        "name": text(template.get("name")),
        "description": text(template.get("description")),
        "form_id": text(template.get("formId")),
        "form_name": text(template.get("formName")),
        "enabled": boolean(template.get("enabled")),
        "is_default": boolean(template.get("default")),
        "modified_by": text(template.get("modifiedBy")),
        "modified_date": _when(template.get("modifiedDate")),
        **stamp.columns,
    }


def external_link_row(
    link: Record, assignment_id: int, project_id: str, stamp: Stamp
) -> Columns | None:
    """The ``claimx_external_links`` row of ``externalLinkData``; ``None`` without a link id."""
    link_id = integer(link.get("linkId"))
    if link_id is None:
        return None
    return {
        "link_id": link_id,
        "assignment_id": assignment_id,
        "project_id": project_id,
        "link_code": text(link.get("linkCode")),
        "url": text(link.get("url")),
        **stamp.columns,
    }


def link_contact_row(
    link: Record, assignment_id: int, project_id: str, stamp: Stamp
) -> Columns | None:
    """The policyholder contact an external link was sent to; ``None`` without an email."""
    email = text(link.get("email"))
    if email is None:
        return None
    return _contact(
        project_id,
        email,
        POLICYHOLDER,
        stamp,
        first_name=text(link.get("firstName")),
        last_name=text(link.get("lastName")),
        phone_number=text(link.get("phone")),
        phone_country_code=text(link.get("phoneCountryCode")),
        task_assignment_id=assignment_id,
    )


def _full_name(item: Record) -> str | None:
    full = text(item.get("claimRepFullName"))
    if full:
        return full
    parts = [text(item.get("claimRepFirstName")), text(item.get("claimRepLastName"))]
    return " ".join(p for p in parts if p) or None


def video_collab_row(item: Record, project_id: str, stamp: Stamp) -> Columns | None:
    """The ``claimx_video_collab`` row of one collaboration; ``None`` without its id."""
    collaboration_id = identifier(item.get("videoCollaborationId") or item.get("id"))
    if collaboration_id is None:
        return None
    return {
        "video_collaboration_id": collaboration_id,
        "project_id": project_id,
        "claim_id": identifier(item.get("claimId")),
        "mfn": text(item.get("mfn")),
        "claim_number": text(item.get("claimNumber")),
        "policy_number": text(item.get("policyNumber")),
        "claim_rep_full_name": _full_name(item),
        "number_of_videos": integer(item.get("numberOfVideos")),
        "number_of_photos": integer(item.get("numberOfPhotos")),
        "session_count": integer(item.get("sessionCount")),
        "total_time_seconds": number(item.get("totalTimeSeconds")),
        "created_date": _when(item.get("createdDate")),
        "company_name": text(item.get("companyName")),
        **stamp.columns,
    }
