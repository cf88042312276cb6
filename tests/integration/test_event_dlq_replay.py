"""``claimx-worker dlq replay`` on the event DLQ with hand-made, partly hostile records: the
selection, the dry run, what is refused, and that a header never picks the destination."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from claimx_worker.testing.kafka import KafkaBroker, TopicFactory
from tests.e2e.support import Record, TopicTail
from tests.raw_records import produce_with_raw_header

pytestmark = pytest.mark.kafka

CLI = str(Path(sys.executable).with_name("claimx-worker"))


def event(event_id: str, event_type: str = "CUSTOM_TASK_COMPLETED") -> bytes:
    body = {"event_id": event_id, "event_type": event_type, "project_id": "12345"}
    return json.dumps({**body, "task_assignment_id": "42"}).encode()


def dead_letter(category: str, **extra: str) -> list[tuple[str, bytes]]:
    headers = {
        "trace-id": "t-1",
        "claimx-attempts": "1",
        "claimx-original-topic": "somebody.elses.topic",  # never the destination
        "claimx-original-partition": "0",
        "claimx-original-offset": "7",
        "claimx-error": "401 from the API",
        "claimx-error-category": category,
        "claimx-error-type": "AuthError",
        **extra,
    }
    return [(name, value.encode()) for name, value in headers.items()]


@pytest.fixture
def setup(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory, tmp_path: Path
) -> tuple[Path, str, str]:
    """A settings file naming a fresh input topic and event DLQ; the DLQ holds five records."""
    pending, dlq = kafka_topic_factory(partitions=2), kafka_topic_factory(partitions=2)
    config = tmp_path / "worker.yaml"
    config.write_text(
        "kafka:\n"
        f"  bootstrap_servers: {kafka_broker.bootstrap_servers}\n"
        "  claimx:\n"
        "    enrichment_worker:\n"
        f"      topics: {{pending: {pending}, dlq: {dlq}}}\n"
    )
    producer = Producer(kafka_broker.client_config())
    records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = [
        (b"12345", event("auth-1"), dead_letter("auth")),
        (b"12345", event("transient-1", "PROJECT_CREATED"), dead_letter("transient")),
        (b"12345", b"{not json", dead_letter("invalid_event")),
        (b"12345", event("cut-1")[:20], dead_letter("auth", **{"claimx-value-truncated": "999"})),
        (b"777", event("auth-2", "PROJECT_CREATED"), dead_letter("auth")),
    ]
    for key, value, headers in records:
        producer.produce(dlq, value, key, headers=headers)
    assert producer.flush(10) == 0
    return config, pending, dlq


def replay(config: Path, dlq: str, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    result = subprocess.run(
        [CLI, "dlq", "replay", "--config", str(config), "--topic", dlq, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return result.returncode, lines, result.stderr


def read_all(broker: KafkaBroker, topic: str) -> list[Record]:
    with TopicTail(broker, topic) as tail:
        return tail.settle(0.5)


def test_selected_events_go_back_to_the_input_topic_as_they_were(
    kafka_broker: KafkaBroker, setup: tuple[Path, str, str]
) -> None:
    config, pending, dlq = setup
    group = ("--group", f"replay-{uuid.uuid4().hex[:8]}")

    code, lines, stderr = replay(config, dlq, *group, "--dry-run", "--category", "auth")
    assert code == 1, stderr  # the truncated auth record is not replayable
    by_id = {line.get("event_id"): line for line in lines}
    assert by_id["auth-1"]["replayable"] is True
    assert by_id["auth-2"]["replayable"] is True
    assert by_id["transient-1"]["skipped"] == "category not selected"
    # the record that is not JSON is not selected either: it is not judged
    assert [line.get("skipped") for line in lines if line["category"] == "invalid_event"] == [
        "category not selected"
    ]
    refused = [line["unreplayable"] for line in lines if "unreplayable" in line]
    assert len(refused) == 1
    assert "truncated" in refused[0]
    assert read_all(kafka_broker, pending) == []  # a dry run produces nothing...

    code, lines, stderr = replay(
        config, dlq, *group, "--category", "auth", "--event-type", "CUSTOM_TASK_COMPLETED"
    )
    assert code == 1, stderr  # ...and commits nothing: the same records again
    assert "5 event record(s) read: 1 replayed" in stderr
    (replayed,) = read_all(kafka_broker, pending)
    assert replayed.key == b"12345"
    assert replayed.value == event("auth-1")
    assert replayed.headers == {"trace-id": "t-1"}  # the routing headers are gone

    code, lines, stderr = replay(config, dlq, *group)
    assert (code, lines) == (0, []), stderr  # the group committed every record it read
    assert "0 event record(s) read" in stderr


def test_a_time_range_selects_by_when_the_record_was_dead_lettered(
    kafka_broker: KafkaBroker, setup: tuple[Path, str, str]
) -> None:
    config, pending, dlq = setup
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()

    code, lines, stderr = replay(config, dlq, "--group", f"g1-{dlq}", "--dry-run", "--since", later)
    assert code == 0, stderr  # nothing selected, so nothing judged unreplayable
    skipped = [line["skipped"] for line in lines if "skipped" in line]
    assert skipped == ["dead-lettered before --since"] * 5, lines

    code, lines, stderr = replay(
        config, dlq, "--group", f"g2-{dlq}", "--since", earlier, "--until", later
    )
    assert code == 1, stderr
    assert "3 replayed" in stderr, stderr
    assert sorted(r.json()["event_id"] for r in read_all(kafka_broker, pending)) == [
        "auth-1",
        "auth-2",
        "transient-1",
    ]


def test_event_filters_are_refused_for_the_action_dlq(setup: tuple[Path, str, str]) -> None:
    config, _, dlq = setup
    code, _, stderr = replay(config, dlq, "--kind", "actions", "--category", "auth")
    assert code == 2
    assert "select events of the event DLQ" in stderr


def test_a_record_whose_header_name_is_not_utf8_goes_back_without_headers(
    kafka_broker: KafkaBroker, kafka_topic_factory: TopicFactory, tmp_path: Path
) -> None:
    """Such headers cannot be read safely (see ``record_headers``): they are all dropped."""
    pending, dlq = kafka_topic_factory(partitions=1), kafka_topic_factory(partitions=1)
    config = tmp_path / "worker.yaml"
    config.write_text(
        f"kafka:\n  bootstrap_servers: {kafka_broker.bootstrap_servers}\n"
        f"  claimx: {{enrichment_worker: {{topics: {{pending: {pending}, dlq: {dlq}}}}}}}\n"
    )
    raw_header = (b"claimx-error-category\xff", b"auth")
    produce_with_raw_header(kafka_broker.bootstrap_servers, dlq, b"1", event("raw-1"), raw_header)

    code, lines, stderr = replay(config, dlq, "--group", f"g-{dlq}")

    assert code == 0, stderr
    assert lines[0]["event_id"] == "raw-1"
    assert lines[0]["category"] is None
    (replayed,) = read_all(kafka_broker, pending)
    assert replayed.value == event("raw-1")
    assert replayed.headers == {}
