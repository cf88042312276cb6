"""Every event type enriched against the ClaimX API simulator (a real HTTP server on loopback),
rows and download tasks checked column by column against the data the simulator served."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker.claimx import (
    ApiSettings,
    ClaimXApiClient,
    ClaimXMetrics,
    Enricher,
)
from claimx_worker.claimx.enricher import MAX_UNKNOWN_EVENT_TYPES
from claimx_worker.errors import PermanentError
from claimx_worker.http.transport import HttpClientKind
from claimx_worker.model import (
    ClaimXEvent,
    ContactRow,
    DownloadTask,
    EntityRows,
    ExternalLinkRow,
    MediaRow,
    ProjectRow,
    TaskRow,
    TaskTemplateRow,
    VideoCollabRow,
)
from claimx_worker.testing.claimx_api import SIMULATOR_TOKEN, ClaimXApiSimulator, Endpoint

NOW = datetime(2024, 9, 1, 8, 30, tzinfo=UTC)
PROJECT = 42
STAMP = {"created_at": NOW, "updated_at": NOW, "last_enriched_at": NOW}


def ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def event(event_type: str, project_id: int = PROJECT, **fields: Any) -> ClaimXEvent:
    return ClaimXEvent(
        event_id=f"evt-{event_type}-{project_id}",
        event_type=event_type,
        project_id=str(project_id),
        **fields,
    )


EnricherFactory = Callable[..., Enricher]


@pytest.fixture
async def make_enricher(claimx_api: ClaimXApiSimulator) -> AsyncIterator[EnricherFactory]:
    made: list[Enricher] = []

    def make(**settings: Any) -> Enricher:
        values = {"base_url": claimx_api.base_url, "token": SIMULATOR_TOKEN, **settings}
        registry = CollectorRegistry()
        metrics = ClaimXMetrics(registry)
        client = ClaimXApiClient(ApiSettings(**values), metrics=metrics)
        enricher = Enricher(client, metrics=metrics, now=lambda: NOW)
        enricher.registry = registry  # type: ignore[attr-defined]
        made.append(enricher)
        return enricher

    yield make
    for enricher in made:
        await enricher.aclose()


@pytest.fixture
async def enricher(make_enricher: EnricherFactory) -> Enricher:
    return make_enricher()


# ---------------------------------------------------------------- expected rows, from raw data


def expected_project(raw: dict[str, Any], event_id: str, **overrides: Any) -> ProjectRow:
    p = raw["project"]
    customer, address = p["customerInformation"], p["address"]
    primary = next(e["emailAddress"] for e in customer["emails"] if e["primary"])
    columns: dict[str, Any] = {
        "project_id": str(p["projectId"]),
        "project_number": p["projectNumber"],
        "master_file_name": p["mfn"],
        "secondary_number": p["secondaryNumber"],
        "status": p["status"],
        "created_date": ts(p["createdDate"]),
        "date_of_loss": ts(p["dateOfLoss"]),
        "type_of_loss": p["typeOfLoss"],
        "cause_of_loss": p["causeOfLoss"],
        "loss_description": p["lossDescription"],
        "year_built": p["yearBuilt"],
        "square_footage": p["squareFootage"],
        "customer_first_name": customer["firstName"],
        "customer_last_name": customer["lastName"],
        "custom_business_name": None,
        "business_line_type": customer["businessLineType"],
        "street1": address["street1"],
        "street2": None,
        "city": address["city"],
        "state_province": address["stateProvince"],
        "zip_postcode": address["zipPostcode"],
        "county": address["county"],
        "country": address["country"],
        "primary_email": primary,
        "primary_phone": customer["phones"][0]["phoneNumber"],
        "date_received": ts(p["dateReceived"]),
        "date_contacted": ts(p["dateContacted"]),
        "planned_inspection_date": ts(p["plannedInspectionDate"]),
        "date_inspected": ts(p["dateInspected"]),
        "appointment_date": ts(p["appointmentDate"]),
        "custom_attribute_1": p["customAttribute1"],
        "custom_attribute_2": p["customAttribute2"],
        "custom_attribute_3": None,
        "custom_external_unique_id": p["customExternalUniqueId"],
        "company_name": raw["companyName"],
        "event_id": event_id,
        **STAMP,
    }
    columns.update(overrides)
    return ProjectRow(**columns)


# ---------------------------------------------------------------- one test per event type


async def test_project_created(enricher: Enricher, claimx_api: ClaimXApiSimulator) -> None:
    ev = event("PROJECT_CREATED")
    result = await enricher.enrich(ev)
    raw = claimx_api.data.project(PROJECT)
    assert result.rows.projects == (expected_project(raw, ev.event_id),)
    customer = raw["project"]["customerInformation"]
    policyholder = ContactRow(
        project_id="42",
        contact_email=next(e["emailAddress"] for e in customer["emails"] if e["primary"]),
        contact_type="POLICYHOLDER",
        first_name=customer["firstName"],
        last_name=customer["lastName"],
        phone_number=customer["phones"][0]["phoneNumber"],
        phone_country_code="1",
        is_primary_contact=True,
        event_id=ev.event_id,
        **STAMP,
    )
    reps = tuple(
        ContactRow(
            project_id="42",
            contact_email=member["userName"],
            contact_type="CLAIM_REP",
            is_primary_contact=member["primaryContact"],
            event_id=ev.event_id,
            **STAMP,
        )
        for member in raw["teamMembers"]
    )
    assert reps, "the simulator serves at least one team member"
    assert result.rows.contacts == (policyholder, *reps)
    assert result.rows.media == result.rows.tasks == result.rows.download_tasks == ()
    assert result.metadata.handler == "project_created"
    assert result.metadata.api_calls == 1
    assert claimx_api.endpoint_calls == {Endpoint.PROJECT: 1}


async def test_project_mfn_added_lays_the_events_name_over_the_project(
    enricher: Enricher, claimx_api: ClaimXApiSimulator
) -> None:
    ev = event("PROJECT_MFN_ADDED", master_file_name="MFN-NEW-1")
    result = await enricher.enrich(ev)
    raw = claimx_api.data.project(PROJECT)
    assert result.rows.projects == (
        expected_project(raw, ev.event_id, master_file_name="MFN-NEW-1"),
    )
    assert result.rows.contacts == ()
    without = await enricher.enrich(event("PROJECT_MFN_ADDED"))
    assert without.rows.projects[0].master_file_name == "MFN-42"


async def test_project_file_added(enricher: Enricher, claimx_api: ClaimXApiSimulator) -> None:
    media = claimx_api.data.media(PROJECT, claimx_api.base_url)
    item = media[0]
    ev = event("PROJECT_FILE_ADDED", media_id=str(item["mediaID"]))
    result = await enricher.enrich(ev)
    row = MediaRow(
        media_id=str(item["mediaID"]),
        project_id="42",
        task_assignment_id=item["taskAssignmentId"],
        file_type=item["mediaType"],
        file_name=item["mediaName"],
        description=item["mediaDescription"],
        comment=item["mediaComment"],
        latitude=item["latitude"],
        longitude=item["longitude"],
        gps_source=item["gpsSource"],
        taken_date=ts(item["takenDate"]),
        full_download_link=item["fullDownloadLink"],
        expires_at=ts(item["expiresAt"]),
        event_id=ev.event_id,
        **STAMP,
    )
    assert result.rows.media == (row,)
    assert result.rows.download_tasks == (
        DownloadTask(
            media_id=row.media_id,
            project_id="42",
            download_url=item["fullDownloadLink"],
            blob_path=f"42/media/{item['mediaName']}",
            file_type=item["mediaType"],
            file_name=item["mediaName"],
            event_id=ev.event_id,
            expires_at=ts(item["expiresAt"]),
        ),
    )
    assert result.rows.projects == (
        expected_project(claimx_api.data.project(PROJECT), ev.event_id),
    )
    assert result.metadata.api_calls == 2
    assert claimx_api.calls["/export/project/42/media"] == 1


async def test_media_without_download_link_has_no_download_task(
    enricher: Enricher, claimx_api: ClaimXApiSimulator
) -> None:
    media = claimx_api.data.media(PROJECT, claimx_api.base_url)
    item = media[2]
    assert "fullDownloadLink" not in item
    result = await enricher.enrich(event("PROJECT_FILE_ADDED", media_id=str(item["mediaID"])))
    assert [m.media_id for m in result.rows.media] == [str(item["mediaID"])]
    assert result.rows.media[0].full_download_link is None
    assert result.rows.download_tasks == ()


async def test_file_added_without_media_id_takes_all_media(
    enricher: Enricher, claimx_api: ClaimXApiSimulator
) -> None:
    media = claimx_api.data.media(PROJECT, claimx_api.base_url)
    result = await enricher.enrich(event("PROJECT_FILE_ADDED"))
    assert [m.media_id for m in result.rows.media] == [str(i["mediaID"]) for i in media]
    assert len(result.rows.download_tasks) == sum("fullDownloadLink" in i for i in media)


async def test_media_id_missing_from_the_response_is_permanent(enricher: Enricher) -> None:
    with pytest.raises(PermanentError, match="media 999 is not among the media of project 42"):
        await enricher.enrich(event("PROJECT_FILE_ADDED", media_id="999"))


@pytest.mark.parametrize("event_type", ["CUSTOM_TASK_ASSIGNED", "CUSTOM_TASK_COMPLETED"])
@pytest.mark.parametrize(("assignment_id", "template_id"), [(42003, 456), (42004, 789)])
async def test_custom_task_events(
    enricher: Enricher,
    claimx_api: ClaimXApiSimulator,
    event_type: str,
    assignment_id: int,
    template_id: int,
) -> None:
    ev = event(event_type, task_assignment_id=str(assignment_id))
    result = await enricher.enrich(ev)
    raw = claimx_api.data.assignment(assignment_id, claimx_api.knobs.task_template_ids)
    template, link = raw["customTask"], raw["externalLinkData"]
    assert raw["taskId"] == template_id
    stamped = {"event_id": ev.event_id, **STAMP}
    assert result.rows.tasks == (
        TaskRow(
            assignment_id=assignment_id,
            task_id=template_id,
            project_id="42",
            task_name=raw["taskName"],
            form_id=raw["formId"],
            assignee_id=raw["assigneeId"],
            assignor_id=raw["assignorId"],
            assignor_email=raw["assignor"],
            date_assigned=ts(raw["dateAssigned"]),
            date_completed=ts(raw["dateCompleted"]),
            cancelled_date=None,
            status=raw["status"],
            pdf_project_media_id=raw["pdfProjectMediaId"],
            form_response_id=raw["formResponseId"],
            stp_enabled=raw["stpEnabled"],
            mfn=raw["mfn"],
            task_url=raw["url"],
            **stamped,
        ),
    )
    assert result.rows.task_templates == (
        TaskTemplateRow(
            task_id=template_id,
            comp_id=template["compId"],
            name=template["name"],
            description=template["description"],
            form_id=template["formId"],
            form_name=template["formName"],
            enabled=True,
            is_default=template["default"],
            modified_by=template["modifiedBy"],
            modified_date=ts(template["modifiedDate"]),
            **stamped,
        ),
    )
    assert result.rows.external_links == (
        ExternalLinkRow(
            link_id=link["linkId"],
            assignment_id=assignment_id,
            project_id="42",
            link_code=link["linkCode"],
            url=link["url"],
            **stamped,
        ),
    )
    assert result.rows.contacts == (
        ContactRow(
            project_id="42",
            contact_email=link["email"],
            contact_type="POLICYHOLDER",
            first_name=link["firstName"],
            last_name=link["lastName"],
            phone_number=link["phone"],
            is_primary_contact=False,
            task_assignment_id=assignment_id,
            **stamped,
        ),
    )
    # include_project_data reads the project row from a task event's rows
    assert result.rows.project == expected_project(claimx_api.data.project(PROJECT), ev.event_id)
    assert result.rows.first_task is not None
    assert result.metadata.handler == "custom_task"
    assert result.metadata.api_calls == 2


@pytest.mark.parametrize("assignment_id", [None, "", "abc", "12x"])
async def test_task_event_without_a_numeric_assignment_id_is_permanent(
    enricher: Enricher, claimx_api: ClaimXApiSimulator, assignment_id: str | None
) -> None:
    with pytest.raises(PermanentError, match="task_assignment_id"):
        await enricher.enrich(event("CUSTOM_TASK_ASSIGNED", task_assignment_id=assignment_id))
    assert claimx_api.total_calls == 0


@pytest.mark.parametrize(
    ("event_type", "column"),
    [
        ("POLICYHOLDER_INVITED", "policyholder_invited_at"),
        ("POLICYHOLDER_JOINED", "policyholder_joined_at"),
    ],
)
async def test_policyholder_events(
    enricher: Enricher, claimx_api: ClaimXApiSimulator, event_type: str, column: str
) -> None:
    ev = event(event_type)
    result = await enricher.enrich(ev)
    raw = claimx_api.data.project(PROJECT)
    assert result.rows.projects == (expected_project(raw, ev.event_id, **{column: NOW}),)
    other = {"policyholder_invited_at", "policyholder_joined_at"} - {column}
    assert getattr(result.rows.projects[0], other.pop()) is None
    assert result.metadata.api_calls == 1


@pytest.mark.parametrize(
    "event_type", ["VIDEO_COLLABORATION_INVITE_SENT", "VIDEO_COLLABORATION_COMPLETED"]
)
async def test_video_collaboration_events(
    enricher: Enricher, claimx_api: ClaimXApiSimulator, event_type: str
) -> None:
    ev = event(event_type, video_collaboration_id="4201")
    result = await enricher.enrich(ev)
    expected = tuple(
        VideoCollabRow(
            video_collaboration_id=str(item["videoCollaborationId"]),
            project_id="42",
            claim_id=str(item["claimId"]),
            mfn=item["mfn"],
            claim_number=item["claimNumber"],
            policy_number=item["policyNumber"],
            claim_rep_full_name=item["claimRepFullName"],
            number_of_videos=item["numberOfVideos"],
            number_of_photos=item["numberOfPhotos"],
            session_count=item["sessionCount"],
            total_time_seconds=item["totalTimeSeconds"],
            created_date=ts(item["createdDate"]),
            company_name=item["companyName"],
            event_id=ev.event_id,
            **STAMP,
        )
        for item in claimx_api.data.video_collaborations(PROJECT)
    )
    assert expected
    assert result.rows.video_collab == expected
    assert result.rows.project == expected_project(claimx_api.data.project(PROJECT), ev.event_id)
    assert claimx_api.endpoint_calls[Endpoint.DATA_REPORT] == 1


async def test_xa_linking_unsuccessful_makes_a_minimal_row_without_api_calls(
    enricher: Enricher, claimx_api: ClaimXApiSimulator
) -> None:
    ev = event("PROJECT_AUTO_XA_LINKING_UNSUCCESSFUL")
    result = await enricher.enrich(ev)
    assert result.rows == EntityRows(
        projects=(
            ProjectRow(
                project_id="42",
                xa_autolink_fail=True,
                xa_autolink_fail_at=NOW,
                event_id=ev.event_id,
                **STAMP,
            ),
        )
    )
    assert result.metadata.api_calls == 0
    assert claimx_api.total_calls == 0


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    yield lines
    logger.remove(sink)


async def test_unknown_event_types_pass_through_counted_and_logged_once_per_type(
    enricher: Enricher, claimx_api: ClaimXApiSimulator, warnings: list[str]
) -> None:
    for event_type in ["PROJECT_ARCHIVED", "PROJECT_ARCHIVED", "NEW_THING", "PROJECT_ARCHIVED"]:
        result = await enricher.enrich(event(event_type))
        assert result.rows.is_empty
        assert result.metadata.handler is None
        assert result.metadata.api_calls == 0
    registry: CollectorRegistry = enricher.registry  # type: ignore[attr-defined]
    sample = registry.get_sample_value
    name = "claimx_events_unknown_type_total"
    assert sample(name, {"event_type": "PROJECT_ARCHIVED"}) == 3
    assert sample(name, {"event_type": "NEW_THING"}) == 1
    assert len([w for w in warnings if "Unknown ClaimX event type" in w]) == 2
    assert claimx_api.total_calls == 0


async def test_unknown_event_types_from_the_stream_cannot_grow_labels_or_logs(
    enricher: Enricher, claimx_api: ClaimXApiSimulator, warnings: list[str]
) -> None:
    """Event types are untrusted: random or huge values must not become label values or one
    warning each (3,000 random 2 KB types once grew /metrics to 12.5 MB)."""
    hostile = [f"{i:04d}-" + "x" * 2000 for i in range(300)]
    odd_but_shaped = [f"NEW_TYPE_{i}" for i in range(300)]
    for event_type in [*hostile, *odd_but_shaped]:
        await enricher.enrich(event(event_type))
    registry: CollectorRegistry = enricher.registry  # type: ignore[attr-defined]
    samples = [
        s
        for metric in registry.collect()
        if metric.name == "claimx_events_unknown_type"
        for s in metric.samples
        if s.name.endswith("_total")
    ]
    labels = {s.labels["event_type"] for s in samples}
    assert len(labels) <= MAX_UNKNOWN_EVENT_TYPES + 1
    assert all(len(label) <= 64 for label in labels)
    assert sum(s.value for s in samples) == 600  # every event still counted
    assert registry.get_sample_value(
        "claimx_events_unknown_type_total", {"event_type": "other"}
    ) == 600 - (MAX_UNKNOWN_EVENT_TYPES)
    unknown_lines = [w for w in warnings if "nknown ClaimX event type" in w]
    assert len(unknown_lines) <= MAX_UNKNOWN_EVENT_TYPES + 1
    assert all(len(w) < 300 for w in warnings)
    assert claimx_api.total_calls == 0


# ---------------------------------------------------------------- response-shape variants

SHAPES = [
    {
        "project_shape": "project",
        "media_shape": "data",
        "task_shape": "data",
        "video_shape": "list",
    },
    {
        "project_shape": "top_level",
        "media_shape": "media",
        "task_shape": "object",
        "video_shape": "collaborations",
    },
    {
        "project_shape": "data.project",
        "media_shape": "single",
        "task_shape": "data",
        "video_shape": "videoCollaboration",
    },
    {
        "project_shape": "project",
        "media_shape": "list",
        "task_shape": "object",
        "video_shape": "object",
    },
]
SHAPE_EVENTS = [
    event("PROJECT_CREATED"),
    event("PROJECT_FILE_ADDED", media_id="42000"),
    event("CUSTOM_TASK_COMPLETED", task_assignment_id="42003"),
    event("VIDEO_COLLABORATION_COMPLETED"),
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(s.values()))
async def test_every_response_shape_gives_the_same_rows(
    make_enricher: EnricherFactory, claimx_api: ClaimXApiSimulator, shape: dict[str, str]
) -> None:
    canonical = make_enricher(project_cache_ttl_seconds=0)
    expected = [(await canonical.enrich(ev)).rows for ev in SHAPE_EVENTS]
    for knob, value in shape.items():
        setattr(claimx_api.knobs, knob, value)
    shaped = make_enricher(project_cache_ttl_seconds=0)
    for ev, rows in zip(SHAPE_EVENTS, expected, strict=True):
        got = (await shaped.enrich(ev)).rows
        if shape["video_shape"] == "object" and ev.event_type.startswith("VIDEO"):
            # a single object instead of a list: the first collaboration only
            assert got.video_collab == rows.video_collab[:1]
            continue
        assert got == rows, f"{ev.event_type} differs under {shape}"


# ---------------------------------------------------------------- single-flight and the cache


async def test_fifty_concurrent_task_events_for_one_project_make_one_project_call(
    enricher: Enricher, claimx_api: ClaimXApiSimulator
) -> None:
    claimx_api.knobs.latency_seconds = 0.05
    events = [event("CUSTOM_TASK_ASSIGNED", task_assignment_id=str(42000 + n)) for n in range(50)]
    results = await asyncio.gather(*(enricher.enrich(ev) for ev in events))
    assert claimx_api.endpoint_calls[Endpoint.PROJECT] == 1
    assert claimx_api.endpoint_calls[Endpoint.TASK_ASSIGNMENT] == 50
    expected = expected_project(claimx_api.data.project(PROJECT), "x")
    for ev, result in zip(events, results, strict=True):
        assert result.rows.project == expected.__class__(
            **{**_columns(expected), "event_id": ev.event_id}
        )
    assert sum(r.metadata.api_calls for r in results) == 51


def _columns(row: ProjectRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__slots__ if not name.startswith("__")}


async def test_a_cache_hit_still_yields_the_project_row(
    enricher: Enricher, claimx_api: ClaimXApiSimulator
) -> None:
    first = await enricher.enrich(event("CUSTOM_TASK_ASSIGNED", task_assignment_id="42003"))
    second_event = event("CUSTOM_TASK_COMPLETED", task_assignment_id="42006")
    second = await enricher.enrich(second_event)
    assert claimx_api.endpoint_calls[Endpoint.PROJECT] == 1
    assert second.metadata.api_calls == 1
    assert second.rows.project is not None
    assert second.rows.project == expected_project(
        claimx_api.data.project(PROJECT), second_event.event_id
    )
    assert first.rows.project is not None
    assert first.rows.project.primary_email == second.rows.project.primary_email


async def test_cache_expires(
    make_enricher: EnricherFactory, claimx_api: ClaimXApiSimulator
) -> None:
    enricher = make_enricher(project_cache_ttl_seconds=0.05)
    await enricher.enrich(event("POLICYHOLDER_INVITED"))
    await enricher.enrich(event("POLICYHOLDER_JOINED"))
    await asyncio.sleep(0.1)
    await enricher.enrich(event("POLICYHOLDER_JOINED"))
    assert claimx_api.endpoint_calls[Endpoint.PROJECT] == 2


# ---------------------------------------------------------------- every HTTP client option


@pytest.mark.parametrize("kind", list(HttpClientKind))
async def test_every_http_client_option_enriches(
    make_enricher: EnricherFactory, claimx_api: ClaimXApiSimulator, kind: HttpClientKind
) -> None:
    enricher = make_enricher(http_client=kind)
    ev = event("CUSTOM_TASK_ASSIGNED", task_assignment_id="42003")
    result = await enricher.enrich(ev)
    assert result.rows.first_task is not None
    assert result.rows.first_task.task_id == 456
    assert result.rows.project is not None
    video = await enricher.enrich(event("VIDEO_COLLABORATION_COMPLETED"))  # a POST with a body
    assert video.rows.video_collab
