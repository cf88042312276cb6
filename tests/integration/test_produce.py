"""``claimx-worker produce`` sends events to a real broker, keyed by project id, as written."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from claimx_worker.cli import cli
from claimx_worker.model import parse_event
from claimx_worker.testing.kafka import KafkaBroker
from tests.integration.runtime_support import read_topic

pytestmark = [pytest.mark.kafka, pytest.mark.usefixtures("restore_logging")]


def test_examples_are_sent_to_the_topic(kafka_broker: KafkaBroker, kafka_topic: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["produce", "--example", "CUSTOM_TASK_COMPLETED", "--count", "2", "--topic", kafka_topic],
        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers},
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"2 events sent to {kafka_topic}."
    messages = read_topic(kafka_broker, kafka_topic, 2)
    events = [parse_event(message.value()) for message in messages]
    assert [message.key() for message in messages] == [b"12345", b"12346"]
    assert {event.event_type for event in events} == {"CUSTOM_TASK_COMPLETED"}
    assert f"Sent CUSTOM_TASK_COMPLETED {events[0].event_id} (project 12345)" in result.stdout


def test_a_json_lines_file_is_sent_as_written(kafka_broker: KafkaBroker, kafka_topic: str) -> None:
    lines = [
        '{"eventId": "e-1", "eventType": "PROJECT_CREATED", "projectId": "7"}',
        '{"eventId": "e-2", "eventType": "PROJECT_ARCHIVED", "projectId": "8", "extra": 1}',
    ]

    result = CliRunner().invoke(
        cli,
        [
            "produce",
            "-",
            "--topic",
            kafka_topic,
            "--bootstrap-servers",
            kafka_broker.bootstrap_servers,
        ],
        input="\n".join(lines) + "\n",
    )

    assert result.exit_code == 0, result.output
    messages = read_topic(kafka_broker, kafka_topic, 2)
    assert [(m.key(), m.value()) for m in messages] == [
        (b"7", lines[0].encode()),
        (b"8", lines[1].encode()),
    ]
    assert json.loads(lines[1])["extra"] == 1
