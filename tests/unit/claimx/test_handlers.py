"""Handlers on unusual API answers (pytest-httpx on httpx's native transport): missing template
id, sparse assignments, an empty project export, unsafe media file names."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from loguru import logger
from prometheus_client import CollectorRegistry
from pytest_httpx import HTTPXMock

from claimx_worker.claimx import ApiSettings, ClaimXApiClient, ClaimXMetrics, Enricher
from claimx_worker.errors import PermanentError
from claimx_worker.model import ClaimXEvent, ProjectRow
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.redaction import Redactor

BASE = "http://claimx.test"
NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
PROJECT = {"data": {"project": {"projectId": 7, "status": "OPEN"}}}


@pytest.fixture
async def enricher() -> AsyncIterator[Enricher]:
    metrics = ClaimXMetrics(CollectorRegistry())
    client = ClaimXApiClient(
        ApiSettings(base_url=BASE, token="t", retries=0),
        metrics=metrics,
        transport=httpx.AsyncHTTPTransport(),
    )
    async with Enricher(client, metrics=metrics, now=lambda: NOW) as enricher:
        yield enricher


def event(event_type: str, **fields: Any) -> ClaimXEvent:
    return ClaimXEvent(event_id="e1", event_type=event_type, project_id="7", **fields)


def answer(httpx_mock: HTTPXMock, path: str, payload: Any) -> None:
    httpx_mock.add_response(url=re.compile(re.escape(BASE + path) + r"(\?.*)?$"), json=payload)


async def test_template_id_from_the_nested_template(
    enricher: Enricher, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "/customTasks/assignment/5", {"data": {"customTask": {"taskId": "789"}}})
    answer(httpx_mock, "/export/project/7", PROJECT)
    result = await enricher.enrich(event("CUSTOM_TASK_COMPLETED", task_assignment_id="5"))
    task = result.rows.first_task
    assert task is not None
    assert (task.assignment_id, task.task_id, task.project_id) == (5, 789, "7")
    assert [t.task_id for t in result.rows.task_templates] == [789]
    assert result.rows.external_links == ()
    assert result.rows.contacts == ()
    assert result.rows.project is not None
    assert result.rows.project.status == "OPEN"


async def test_assignment_without_any_template_id_is_permanent(
    enricher: Enricher, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "/customTasks/assignment/5", {"assignmentId": 5, "taskName": "x"})
    answer(httpx_mock, "/export/project/7", PROJECT)
    with pytest.raises(PermanentError, match="task assignment 5: the response has no taskId"):
        await enricher.enrich(event("CUSTOM_TASK_ASSIGNED", task_assignment_id="5"))


async def test_empty_project_export_gives_a_minimal_row(
    enricher: Enricher, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "/export/project/7", {"data": {}})
    result = await enricher.enrich(event("POLICYHOLDER_INVITED"))
    assert result.rows.projects == (
        ProjectRow(
            project_id="7",
            policyholder_invited_at=NOW,
            event_id="e1",
            created_at=NOW,
            updated_at=NOW,
            last_enriched_at=NOW,
        ),
    )


@pytest.mark.parametrize(
    ("name", "blob_path"),
    [
        ("../../etc/passwd", "7/media/_.._etc_passwd"),
        ("a\\b.jpg", "7/media/a_b.jpg"),
        (None, "7/media/99"),
    ],
)
async def test_blob_path_stays_in_the_projects_folder(
    enricher: Enricher, httpx_mock: HTTPXMock, name: str | None, blob_path: str
) -> None:
    item = {"mediaID": 99, "mediaName": name, "fullDownloadLink": "https://files.test/99"}
    answer(httpx_mock, "/export/project/7/media", {"media": item})
    answer(httpx_mock, "/export/project/7", PROJECT)
    result = await enricher.enrich(event("PROJECT_FILE_ADDED", media_id="99"))
    assert [t.blob_path for t in result.rows.download_tasks] == [blob_path]
    media_request = httpx_mock.get_request(url=re.compile(r".*/media\?.*"))
    assert media_request is not None
    assert media_request.url.params["mediaIds"] == "99"


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
async def test_an_enriched_event_is_a_debug_line(
    enricher: Enricher, httpx_mock: HTTPXMock, level: str
) -> None:
    answer(httpx_mock, "/export/project/7", PROJECT)
    sink = io.StringIO()
    configure_logging(
        redactor=Redactor(()), level=level, fmt="human", sink=sink, capture_stdlib=False
    )
    try:
        await enricher.enrich(event("PROJECT_CREATED"))
    finally:
        logger.remove()
        logger.add(sys.stderr)

    lines = [line for line in sink.getvalue().splitlines() if "Event enriched" in line]
    if level == "INFO":
        assert lines == []
    else:
        (line,) = lines
        assert "event_id=e1 event_type=PROJECT_CREATED handler=" in line
        assert "api_calls=1" in line


async def test_a_timestamp_no_datetime_can_hold_is_read_as_missing(
    enricher: Enricher, httpx_mock: HTTPXMock
) -> None:
    assignment = {
        "customTask": {"taskId": 789},
        "dateAssigned": 10**20,
        "dateCompleted": "9999-12-31T23:59:59-01:00",
    }
    answer(httpx_mock, "/customTasks/assignment/5", {"data": assignment})
    answer(httpx_mock, "/export/project/7", PROJECT)

    result = await enricher.enrich(event("CUSTOM_TASK_COMPLETED", task_assignment_id="5"))

    (columns,) = result.rows.columns("tasks")
    assert (columns["task_id"], columns["date_assigned"], columns["date_completed"]) == (
        789,
        None,
        None,
    )
