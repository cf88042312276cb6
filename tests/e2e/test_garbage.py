"""``claimx-worker run`` survives a topic of generated garbage: every record that is not an
event lands in the enrichment DLQ with its reason, the worker stays up, and the good events sent
after the garbage are processed and delivered as usual."""

from __future__ import annotations

import json
from collections import Counter

import attrs
import pytest

from claimx_worker.testing.claimx_api import ClaimXApiSimulator
from claimx_worker.testing.kafka import KafkaBroker
from claimx_worker.testing.webhooks import WebhookReceiver
from tests.e2e.support import (
    UNKNOWN_TYPE,
    DeployScenario,
    StartWorker,
    Topics,
    TopicTail,
    by_event,
    check_payload,
    expected_actions,
    mixed_events,
    wait_committed,
)
from tests.integration.runtime_support import Record, headers_of, produce, read_topic
from tests.raw_records import produce_with_raw_header

pytestmark = pytest.mark.kafka

ONE_MB = 1_000_000
FORGED_ROUTING = [
    ("claimx-due-ms", "9" * 400),
    ("claimx-attempts", "-1"),
    ("claimx-original-topic", b"\xff\xfe"),
    ("claimx-original-offset", "9" * 5000),
    ("claimx-error", "forged"),
    ("claimx-error-category", "transient"),
]
JUNK_HEADERS = [("x-junk", b"\xff\xfe\x00"), ("", b""), ("x-null", b""), ("x-big", b"h" * 10_000)]


@attrs.frozen
class Garbage:
    """A record that is not an event, and what its DLQ record must say."""

    key: bytes | None
    value: bytes | None
    reason: str
    """Text the DLQ record's ``claimx-error`` holds."""
    headers: list[tuple[str, str | bytes]] | None = None

    @property
    def record(self) -> Record:
        return self.key, self.value, self.headers


def _garbage() -> list[Garbage]:
    event = '{"event_id":"e","event_type":"PROJECT_CREATED","project_id":"1","metadata":{"x":%s}}'
    return [
        Garbage(b"g-not-json", b"\x00\x01{this is not json", "not valid JSON"),
        Garbage(b"g-utf8", b'{"event_id":"\xff\xfe","event_type":"X"}', "not valid JSON"),
        Garbage(b"g-empty", b"", "not valid JSON"),
        Garbage(b"g-1mb-bytes", bytes(range(256)) * (ONE_MB // 256), "not valid JSON"),
        Garbage(b"g-1mb-string", json.dumps("a" * ONE_MB).encode(), "expected a JSON object"),
        Garbage(b"g-deep-list", b"[" * 100_000 + b"]" * 100_000, "nested deeper than 32"),
        Garbage(b"g-deep-event", (event % ("[" * 1000 + "]" * 1000)).encode(), "nested deeper"),
        Garbage(b"g-digits", b'{"event_id":"e","project_id":%s}' % (b"9" * 5000), "not valid"),
        Garbage(b"g-float", b'{"event_id":1e999999,"event_type":"X","project_id":"1"}', "event_id"),
        Garbage(b"g-array", b"[]", "expected a JSON object"),
        Garbage(b"g-null-json", b"null", "expected a JSON object"),
        Garbage(b"g-types", b'{"event_id":["x"],"event_type":{},"project_id":1}', "event_id"),
        Garbage(b"g-forged", b"forged routing headers", "not valid JSON", FORGED_ROUTING),
        Garbage(b"g-junk-headers", b"\xc3(", "not valid JSON", JUNK_HEADERS),
        Garbage(None, b"null key, not json", "not valid JSON"),
        Garbage(None, None, "the record has no value"),
        Garbage(b"g-null-value", None, "the record has no value"),
    ]


def test_the_worker_dead_letters_garbage_with_its_reason_and_processes_what_follows(
    kafka_broker: KafkaBroker,
    topics: Topics,
    claimx_api: ClaimXApiSimulator,
    webhook_receiver: WebhookReceiver,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
) -> None:
    garbage = _garbage()
    raw = Garbage(b"g-raw-header", b"a header name that is not UTF-8", "not valid JSON")
    events = mixed_events(60, prefix="after")
    actions = expected_actions(events)
    hooks = {a.idempotency_key: a for a in actions if a.kind == "webhook"}
    publishes = {a.idempotency_key: a for a in actions if a.kind == "publish"}
    enriched_ids = {e.event_id for e in events if e.event_type != UNKNOWN_TYPE}
    assert hooks
    assert publishes

    deployment = deploy_scenario()
    produce(kafka_broker, topics.pending, [g.record for g in garbage])
    assert raw.key is not None
    assert raw.value is not None
    produce_with_raw_header(
        kafka_broker.bootstrap_servers, topics.pending, raw.key, raw.value, (b"\xff\xfe", b"v")
    )
    garbage.append(raw)
    # a good event with forged routing headers is a good event: headers never steer it
    good = [(key, value, FORGED_ROUTING) for key, value in (e.message() for e in events)]
    produce(kafka_broker, topics.pending, good)
    worker = start_worker(deployment.config, {})

    with (
        TopicTail(kafka_broker, topics.enriched) as enriched,
        TopicTail(kafka_broker, topics.triggers) as triggers,
    ):
        enriched.wait_for(
            lambda r: len(r) >= len(enriched_ids), 60, what="entity rows", worker=worker
        )
        triggers.wait_for(lambda r: len(r) >= len(publishes), 30, what="trigger messages")
        webhook_receiver.wait_until(lambda: len(webhook_receiver.requests) >= len(hooks), 30)
        wait_committed(kafka_broker, deployment.group, topics.pending)
        worker.alive()
        enriched.settle(0.5)
        triggers.settle(0.5)

    # Every garbage record is in the DLQ, once, with its reason; forged headers replaced.
    dead = read_topic(kafka_broker, topics.dlq, len(garbage), settle=0.5)
    by_name = {(m.key(), m.value()[:40] if m.value() else m.value()): m for m in dead}
    assert len(dead) == len(by_name) == len(garbage)
    for item in garbage:
        message = by_name.pop((item.key, item.value[:40] if item.value else item.value))
        headers = headers_of(message)
        assert item.reason in headers["claimx-error"], (item.key, headers["claimx-error"])
        assert headers["claimx-error-category"] == "invalid_event"
        assert headers["claimx-original-topic"] == topics.pending
        assert headers["claimx-attempts"] == "1"
        names = [name for name, _ in message.headers() or ()]
        assert all(names.count(name) == 1 for name in names if name.startswith("claimx-"))
        if item.value is not None and len(item.value) >= ONE_MB:  # cut for the DLQ topic
            assert headers["claimx-value-truncated"] == str(len(item.value))
            assert item.value.startswith(message.value() or b"")

    # The good events that followed: rows, trigger messages and webhooks as usual.
    rows = by_event(enriched.records)
    assert set(rows) == enriched_ids
    assert len(enriched.records) == len(enriched_ids)
    assert Counter(r.headers["idempotency_key"] for r in triggers.records) == Counter(
        list(publishes)
    )
    for record in triggers.records:
        action = publishes[record.headers["idempotency_key"]]
        check_payload(record.json(), action, claimx_api.data, rows[action.event.event_id])
    requests = webhook_receiver.requests
    assert Counter(r.headers["idempotency-key"] for r in requests) == Counter(list(hooks))
    for request in requests:
        action = hooks[request.headers["idempotency-key"]]
        assert (request.path, request.status) == (action.path, 200)
        check_payload(request.json(), action, claimx_api.data, rows[action.event.event_id])

    assert worker.terminate() == 0, worker.output()[-3000:]
    assert "Traceback" not in worker.output()  # garbage is never logged as a bug
