"""``claimx-worker run`` end to end on a real broker, the ClaimX API simulator and a webhook
receiver: 2,000 mixed events in, every entity row, download task, trigger message and webhook
out, offsets committed, nothing dead-lettered but the poison sent."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from claimx_worker.model import EventType
from claimx_worker.testing.claimx_api import ClaimXApiSimulator
from claimx_worker.testing.kafka import KafkaBroker
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.e2e.support import (
    UNKNOWN_TYPE,
    DeployScenario,
    SentEvent,
    StartWorker,
    Topics,
    TopicTail,
    by_event,
    check_payload,
    expected_actions,
    mixed_events,
    produce,
    wait_committed,
)

pytestmark = pytest.mark.kafka

POISON = [
    (b"poison", b"not json at all"),
    (b"poison", json.dumps({"event_type": "PROJECT_CREATED", "project_id": "1"}).encode()),
    (  # a task event without its assignment id: a permanent enrichment error
        b"1001",
        json.dumps(
            {"event_id": "poison-task", "event_type": "CUSTOM_TASK_ASSIGNED", "project_id": "1001"}
        ).encode(),
    ),
]


def expected_downloads(
    event: SentEvent, claimx_api: ClaimXApiSimulator
) -> set[tuple[str, str, str]]:
    """(media id, download URL, blob path) of every download task ``event`` must produce."""
    media = claimx_api.data.media(int(event.project_id), claimx_api.base_url)
    return {
        (str(m["mediaID"]), m["fullDownloadLink"], f"{event.project_id}/media/{m['mediaName']}")
        for m in media
        if "fullDownloadLink" in m and event.media_id in (None, str(m["mediaID"]))
    }


def check_rows(event: SentEvent, rows: dict[str, Any], claimx_api: ClaimXApiSimulator) -> None:
    """The entity rows of ``event`` are what its type fetches from the simulator."""
    data, project_id = claimx_api.data, int(event.project_id)
    (project,) = rows["projects"]
    assert (rows["event_type"], project["project_id"]) == (event.event_type, event.project_id)
    match event.event_type:
        case EventType.PROJECT_CREATED:
            assert project["project_number"] == f"CLM-{project_id}"
            assert rows["contacts"]
        case EventType.PROJECT_MFN_ADDED:
            assert project["master_file_name"] == f"MFN-NEW-{event.event_id}"
        case EventType.PROJECT_FILE_ADDED:
            media = {m[0] for m in expected_downloads(event, claimx_api)}
            all_media = {str(m["mediaID"]) for m in data.media(project_id, claimx_api.base_url)}
            wanted = {event.media_id} if event.media_id else all_media
            assert {m["media_id"] for m in rows["media"]} == wanted
            assert {m["media_id"] for m in rows["media"] if m["full_download_link"]} == media
        case EventType.CUSTOM_TASK_ASSIGNED | EventType.CUSTOM_TASK_COMPLETED:
            (task,) = rows["tasks"]
            assert (task["assignment_id"], task["task_id"]) == (event.assignment_id, event.template)
            assert [t["task_id"] for t in rows["task_templates"]] == [event.template]
            assert [link["assignment_id"] for link in rows["external_links"]] == [
                event.assignment_id
            ]
        case EventType.POLICYHOLDER_INVITED:
            assert project["policyholder_invited_at"] is not None
        case EventType.POLICYHOLDER_JOINED:
            assert project["policyholder_joined_at"] is not None
        case EventType.VIDEO_COLLABORATION_INVITE_SENT | EventType.VIDEO_COLLABORATION_COMPLETED:
            ids = [str(v["videoCollaborationId"]) for v in data.video_collaborations(project_id)]
            assert [v["video_collaboration_id"] for v in rows["video_collab"]] == ids
        case EventType.PROJECT_AUTO_XA_LINKING_UNSUCCESSFUL:
            assert project["xa_autolink_fail"] is True
        case other:
            raise AssertionError(f"unexpected entity rows for {other}")


def test_two_thousand_mixed_events_end_to_end(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    webhook_receiver: WebhookReceiver,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
) -> None:
    events = mixed_events(2000, prefix="mix")
    by_id = {event.event_id: event for event in events}
    actions = expected_actions(events)
    hooks = {a.idempotency_key: a for a in actions if a.kind == "webhook"}
    publishes = {a.idempotency_key: a for a in actions if a.kind == "publish"}
    enriched_ids = {e.event_id for e in events if e.event_type != UNKNOWN_TYPE}
    downloads = {
        (e.event_id, *task)
        for e in events
        if e.event_type == EventType.PROJECT_FILE_ADDED
        for task in expected_downloads(e, claimx_api)
    }
    assert len(hooks) > 50
    assert len(publishes) > 50
    assert len(downloads) > 300

    deployment = deploy_scenario()
    produce(kafka_broker, topics.pending, [e.message() for e in events] + POISON)
    worker = start_worker(deployment.config, {})

    with (
        TopicTail(kafka_broker, topics.enriched) as enriched,
        TopicTail(kafka_broker, topics.downloads) as download_tail,
        TopicTail(kafka_broker, topics.triggers) as triggers,
        TopicTail(kafka_broker, topics.dlq) as dlq,
        TopicTail(kafka_broker, topics.actions_dlq) as actions_dlq,
    ):
        enriched.wait_for(
            lambda r: len(r) >= len(enriched_ids), 120, what="entity rows", worker=worker
        )
        worker.alive()
        download_tail.wait_for(lambda r: len(r) >= len(downloads), 30, what="download tasks")
        triggers.wait_for(lambda r: len(r) >= len(publishes), 30, what="trigger messages")
        dlq.wait_for(lambda r: len(r) >= len(POISON), 30, what="poison in the DLQ")
        webhook_receiver.wait_until(lambda: len(webhook_receiver.requests) >= len(hooks), 30)
        wait_committed(kafka_broker, deployment.group, topics.pending)
        for tail in (enriched, download_tail, triggers, dlq, actions_dlq):
            tail.settle(0.5)

    # Entity rows: one message per known event, keyed by project, rows as the type fetches.
    rows = by_event(enriched.records)
    assert len(enriched.records) == len(rows)
    assert set(rows) == enriched_ids
    for record in enriched.records:
        event = by_id[record.headers["event_id"]]
        assert record.key == event.project_id.encode()
        check_rows(event, rows[event.event_id], claimx_api)

    # Download tasks: one per media with a link, keyed by media id.
    got = set()
    for record in download_tail.records:
        task = record.json()
        assert record.key == task["media_id"].encode()
        assert task["project_id"] == by_id[task["event_id"]].project_id
        got.add((task["event_id"], task["media_id"], task["download_url"], task["blob_path"]))
    assert len(download_tail.records) == len(got)
    assert got == downloads

    # Trigger messages: exactly the expected ones, each with its key, headers and payload.
    received = Counter(r.headers["idempotency_key"] for r in triggers.records)
    assert received == Counter(list(publishes))
    for record in triggers.records:
        action = publishes[record.headers["idempotency_key"]]
        event = action.event
        assert record.key == (action.key or "").encode()
        assert record.headers == {
            "trigger_name": action.trigger_name,
            "task_id": str(event.template),
            "event_type": event.event_type,
            "event_id": event.event_id,
            "x-trigger-name": action.trigger_name,
            "x-task-id": str(event.template),
            "x-event-type": event.event_type,
            "idempotency_key": action.idempotency_key,
        }
        check_payload(record.json(), action, claimx_api.data, rows[event.event_id])

    # Webhooks: exactly the expected calls, answered 200, each with its keys and payload.
    requests = webhook_receiver.requests
    assert Counter(r.headers["idempotency-key"] for r in requests) == Counter(list(hooks))
    for request in requests:
        action = hooks[request.headers["idempotency-key"]]
        assert (request.path, request.method, request.status) == (action.path, "POST", 200)
        assert request.headers["webhook-id"] == action.idempotency_key
        assert request.headers["content-type"] == "application/json"
        check_payload(request.json(), action, claimx_api.data, rows[action.event.event_id])

    # Dead letters: the poison only; no action failed.
    assert sorted(r.value for r in dlq.records) == sorted(value for _, value in POISON)
    assert actions_dlq.records == []

    assert worker.terminate() == 0, worker.output()[-3000:]
    assert "Task trigger matched" in worker.output()
