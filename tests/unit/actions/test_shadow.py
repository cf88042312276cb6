"""Shadow records: what would have been sent, built as the executor builds it, secrets out."""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry

from claimx_worker.actions import idempotency_key
from claimx_worker.actions.identity import ActionRef
from claimx_worker.actions.settings import ActionSettings
from claimx_worker.actions.shadow import ShadowRecorder
from claimx_worker.model import ChangeRows, Filter, Log, Metric, PublishToTopic, Webhook

TOKEN = "tok-0123456789abcdef"
REF = ActionRef(event_id="evt-1", project_id="123", instance="shadowed", index=2)


async def _never(topic: str, value: bytes, key: bytes | None, headers: object) -> None:
    raise AssertionError("shadow_record produces nothing")


def _recorder() -> ShadowRecorder:
    return ShadowRecorder(
        ActionSettings(),
        topic="shadow",
        produce=_never,
        registry=CollectorRegistry(),
        secret_refs={TOKEN: "HOOK_TOKEN"},
    )


def test_a_webhook_is_recorded_as_its_request_with_secrets_referenced_or_masked() -> None:
    action = Webhook(
        url="https://hooks.example.com/claims?x=1",
        headers={"Authorization": f"Bearer {TOKEN}", "X-Api-Key": "other-secret-value"},
        body={"claim": "CLM-1", "token_echo": TOKEN},
    )

    record = _recorder().shadow_record(REF, action)

    key = idempotency_key("evt-1", "shadowed", 2)
    assert record["idempotency_key"] == key
    assert record["type"] == "webhook"
    assert record["method"] == "POST"
    assert record["url"] == "https://hooks.example.com/claims?x=1"
    assert record["headers"]["Authorization"] == "Bearer ${HOOK_TOKEN}"
    assert record["headers"]["X-Api-Key"] == "***"
    assert record["headers"]["Idempotency-Key"] == key
    assert record["headers"]["webhook-id"] == key
    assert record["headers"]["Content-Type"] == "application/json"
    assert record["body"] == {"claim": "CLM-1", "token_echo": "${HOOK_TOKEN}"}
    assert record["secret_vars"] == ["HOOK_TOKEN"]
    assert record["masked_headers"] == ["X-Api-Key"]
    assert TOKEN not in json.dumps(record)


def test_a_publish_is_recorded_with_its_key_headers_and_value() -> None:
    action = PublishToTopic(topic="claimx.triggers", value={"a": 1}, headers={"x-t": "v"})

    record = _recorder().shadow_record(REF, action)

    assert record["topic"] == "claimx.triggers"
    assert record["key"] == "123"  # the project, as the executor keys it
    assert record["headers"] == {"x-t": "v", "idempotency_key": REF.key}
    assert record["value"] == {"a": 1}


def test_log_metric_and_an_unsendable_action() -> None:
    recorder = _recorder()

    log = recorder.shadow_record(REF, Log(message="hello", level="warning"))
    metric = recorder.shadow_record(REF, Metric(name="m", labels={"k": "v"}))
    bad = recorder.shadow_record(REF, Webhook(url=f"https://user:{TOKEN}@example.com/"))

    assert (log["level"], log["message"]) == ("warning", "hello")
    assert (metric["name"], metric["value"], metric["labels"]) == ("m", 1.0, {"k": "v"})
    assert "credentials" in bad["error"]
    assert TOKEN not in json.dumps(bad)


def test_a_filter_is_recorded_with_its_reason_secrets_referenced() -> None:
    record = _recorder().shadow_record(REF, Filter(reason=f"blocked by {TOKEN}"))

    assert record["type"] == "filter"
    assert record["reason"] == "blocked by ${HOOK_TOKEN}"
    assert record["secret_vars"] == ["HOOK_TOKEN"]


def test_a_row_change_is_recorded_with_what_it_would_change_secrets_referenced() -> None:
    change = ChangeRows(rows="tasks", columns={"note": f"by {TOKEN}"}, where={"status": "OPEN"})

    record = _recorder().shadow_record(REF, change)

    assert record["type"] == "change_rows"
    assert (record["rows"], record["where"]) == ("tasks", {"status": "OPEN"})
    assert record["columns"] == {"note": "by ${HOOK_TOKEN}"}
    assert record["secret_vars"] == ["HOOK_TOKEN"]
