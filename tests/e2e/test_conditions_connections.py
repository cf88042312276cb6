"""``claimx-worker run`` on a real broker: a task trigger with conditions and an OAuth2
connection delivers exactly to the events that match, with one token, and no secret in its
output."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimx_worker.model import EventType
from claimx_worker.testing.claimx_api import ClaimXApiSimulator
from claimx_worker.testing.kafka import KafkaBroker
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.e2e.support import (
    INSTANCE,
    PHOTO,
    StartWorker,
    Topics,
    TopicTail,
    produce,
    task_events,
    wait_committed,
    write_settings,
    write_yaml,
)
from tests.integration.connections_support import TokenEndpoint

pytestmark = pytest.mark.kafka

CLIENT_SECRET = "e2e-client-secret-7f3a"
MATCHING_PROJECTS = ("2000", "2002", "2004", "2006", "2008")


def test_a_trigger_with_conditions_and_a_connection_delivers_exactly_to_matching_events(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    webhook_receiver: WebhookReceiver,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    plugins = tmp_path / "plugins"
    with TokenEndpoint("claimx-worker", CLIENT_SECRET) as token_endpoint:
        write_yaml(
            plugins / "connections" / "crm.yaml",
            {
                "base_url": webhook_receiver.url("/crm"),
                "auth": {
                    "type": "oauth2",
                    "token_url": token_endpoint.url,
                    "client_id": "claimx-worker",
                    "client_secret": "${CRM_CLIENT_SECRET}",
                },
                "headers": {"X-Source": "claimx"},
                "rate_limit": 100,
            },
        )
        write_yaml(
            plugins / INSTANCE / "config.yaml",
            {
                "name": INSTANCE,
                "plugin": "task_trigger",
                "config": {
                    "triggers": {
                        PHOTO: {
                            "name": "Photo to CRM",
                            "conditions": {
                                "all": [
                                    {
                                        "field": "project_id",
                                        "in": [int(p) for p in MATCHING_PROJECTS],
                                    },
                                    {"field": "event_type", "prefix": "CUSTOM_TASK_"},
                                    {"field": "task_name", "exists": True},
                                ]
                            },
                            "on_completed": {
                                "webhook": {
                                    "connection": "crm",
                                    "path": "/contacts/{project_id}?task={task_id}",
                                    "payload": {
                                        "event": {"path": "event_id"},
                                        "project": {"path": "project_id"},
                                        "source": {"value": "claimx"},
                                    },
                                }
                            },
                        }
                    }
                },
            },
        )
        config = write_settings(
            tmp_path / "worker.yaml",
            broker=kafka_broker,
            topics=topics,
            group=f"e2e-{topics.pending}",
            plugins_dir=plugins,
            api_url=claimx_api.base_url,
        )
        events = task_events(
            10, prefix="crm", template=PHOTO, event_type=EventType.CUSTOM_TASK_COMPLETED
        )
        worker = start_worker(config, {"CRM_CLIENT_SECRET": CLIENT_SECRET})
        worker.wait_for_log("Partitions assigned")
        produce(kafka_broker, topics.pending, [event.message() for event in events])

        wait_committed(kafka_broker, f"e2e-{topics.pending}", topics.pending)
        webhook_receiver.wait_until(lambda: len(webhook_receiver.requests) >= 5, timeout=30)
        with TopicTail(kafka_broker, topics.actions_dlq) as actions_dlq:
            assert actions_dlq.settle(0.5) == []
        assert worker.terminate() == 0

    requests = webhook_receiver.requests
    assert sorted(request.path for request in requests) == [
        f"/crm/contacts/{project}" for project in MATCHING_PROJECTS
    ]
    matching = {e.event_id: e for e in events if e.project_id in MATCHING_PROJECTS}
    for request in requests:
        body = request.json()
        assert body == {
            "event": body["event"],
            "project": matching[body["event"]].project_id,
            "source": "claimx",
        }
        assert request.path == f"/crm/contacts/{body['project']}"
        assert request.headers["authorization"] == "Bearer tok-1"
        assert request.headers["x-source"] == "claimx"
    assert token_endpoint.issued == 1
    assert CLIENT_SECRET not in worker.output()
    assert "tok-1" not in worker.output()
