"""Action DLQ records: context kept, secrets out, and back to the same action on replay."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import attrs
import pytest

from claimx_worker.actions.dead_letter import (
    DeadLetter,
    ReplayScope,
    UnreplayableError,
    dead_letter,
    to_action,
)
from claimx_worker.actions.identity import ActionRef
from claimx_worker.actions.retry import DeliveryReport, GiveUp
from claimx_worker.actions.secrets import SecretScrubber
from claimx_worker.actions.settings import ActionSettings
from claimx_worker.actions.signing import SigningSource
from claimx_worker.http.connections import Connection, ConnectionConfig
from claimx_worker.model import PublishToTopic, Webhook

TOKEN = "tok-3f9a-secret-value"
SIGNING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
REF = ActionRef(event_id="evt-1", project_id="12345", instance="task_trigger", index=1)
REPORT = DeliveryReport(
    delivered=False,
    attempts=3,
    give_up=GiveUp.MAX_ATTEMPTS,
    error=f"HTTP 503 Service Unavailable for {TOKEN}",
    status=503,
    first_attempt_at=datetime(2025, 1, 1, tzinfo=UTC),
    last_attempt_at=datetime(2025, 1, 1, 0, 1, tzinfo=UTC),
)
SCRUBBER = SecretScrubber({TOKEN: "WEBHOOK_TOKEN", SIGNING: "SIGNING_SECRET"})
SETTINGS = ActionSettings()
SCOPE = ReplayScope(
    variables=frozenset({"WEBHOOK_TOKEN", "SIGNING_SECRET"}),
    destinations=frozenset({"https://hooks.example.com:443"}),
    topics=frozenset({"claimx.triggers", "t"}),
    settings=SETTINGS,
)


def _webhook(**changes: object) -> Webhook:
    fields: dict[str, object] = {
        "url": "https://hooks.example.com/claimx?x=1",
        "headers": {"Authorization": f"Bearer {TOKEN}", "X-Api-Key": "literal-key", "X-T": "1"},
        "body": {"task_id": 456, "note": "done"},
        "timeout": 5.0,
        "signing_secret": SIGNING,
    }
    return Webhook(**(fields | changes))  # type: ignore[arg-type]


def test_webhook_record_has_context_and_no_secret() -> None:
    record = dead_letter(REF, _webhook(), REPORT, SCRUBBER, SETTINGS)
    text = record.to_json().decode()
    assert TOKEN not in text
    assert SIGNING not in text
    assert "literal-key" not in text
    data = json.loads(text)
    assert data["idempotency_key"] == REF.key
    assert (data["event_id"], data["project_id"], data["instance"]) == (
        "evt-1",
        "12345",
        "task_trigger",
    )
    assert (data["action_index"], data["attempts"], data["http_status"]) == (1, 3, 503)
    assert data["give_up"] == "max_attempts"
    assert data["error"] == "HTTP 503 Service Unavailable for ${WEBHOOK_TOKEN}"
    assert data["first_attempt_at"] == "2025-01-01T00:00:00.000Z"
    assert data["action"] == {
        "type": "webhook",
        "url": "https://hooks.example.com/claimx?x=1",
        "method": "POST",
        "headers": {"Authorization": "Bearer ${WEBHOOK_TOKEN}", "X-Api-Key": "***", "X-T": "1"},
        "timeout": 5.0,
        "body": {"task_id": 456, "note": "done"},
    }
    assert data["secret_vars"] == ["WEBHOOK_TOKEN"]
    assert data["masked_headers"] == ["X-Api-Key"]
    assert (data["signing"], data["signing_secret_var"]) == ("action", "SIGNING_SECRET")


def test_webhook_record_round_trips_to_the_action_with_current_secrets() -> None:
    record = DeadLetter.from_json(
        dead_letter(REF, _webhook(), REPORT, SCRUBBER, SETTINGS).to_json()
    )
    assert record.ref == REF
    environ = {"WEBHOOK_TOKEN": "rotated-token", "SIGNING_SECRET": "whsec_bmV3"}
    action = to_action(record, environ, SCOPE)
    assert action == _webhook(
        headers={"Authorization": "Bearer rotated-token", "X-T": "1"},
        signing_secret="whsec_bmV3",
    )


def test_an_unregistered_signing_secret_is_not_stored() -> None:
    record = dead_letter(
        REF, _webhook(signing_secret="unregistered-signing"), REPORT, SCRUBBER, SETTINGS
    )
    assert "unregistered-signing" not in record.to_json().decode()
    assert (record.signing, record.signing_secret_var) == (SigningSource.ACTION, None)
    with pytest.raises(UnreplayableError, match="key is unknown"):  # never sent unsigned
        to_action(record, {"WEBHOOK_TOKEN": "t"}, SCOPE)


def test_publish_record_round_trips() -> None:
    action = PublishToTopic(
        topic="claimx.triggers", value={"a": [1, 2]}, key=None, headers={"source": "x"}
    )
    record = DeadLetter.from_json(dead_letter(REF, action, REPORT, SCRUBBER, SETTINGS).to_json())
    assert record.action["type"] == "publish_to_topic"
    assert record.action["value"] == {"a": [1, 2]}
    assert to_action(record, {"WEBHOOK_TOKEN": "t"}, SCOPE) == action


def test_bytes_payloads_survive_as_base64() -> None:
    action = PublishToTopic(topic="t", value=b"\x00\xffraw", key="k")
    record = DeadLetter.from_json(dead_letter(REF, action, REPORT, SCRUBBER, SETTINGS).to_json())
    assert record.payload_encoding == "base64"
    assert to_action(record, {"WEBHOOK_TOKEN": "t"}, SCOPE) == action


def test_a_payload_that_was_never_json_is_recorded_but_not_replayable() -> None:
    action = PublishToTopic(topic="t", value={1, 2}.__iter__())
    record = dead_letter(REF, action, REPORT, SCRUBBER, SETTINGS)
    assert record.payload_encoding == "repr"
    json.loads(record.to_json())
    with pytest.raises(UnreplayableError):
        to_action(record, {}, SCOPE)


def test_a_record_from_before_dollar_escaping_is_not_replayable() -> None:
    """Records written before ``$`` was escaped cannot tell a reference from event text."""
    data = json.loads(dead_letter(REF, _webhook(), REPORT, SCRUBBER, SETTINGS).to_json())
    assert data["record_version"] == 2
    del data["record_version"]
    record = DeadLetter.from_json(json.dumps(data))
    with pytest.raises(UnreplayableError, match="older claimx-worker"):
        to_action(record, {"WEBHOOK_TOKEN": "t", "SIGNING_SECRET": "s"}, SCOPE)


def test_reference_text_in_event_data_is_replayed_as_text() -> None:
    body = {"task_name": "${WEBHOOK_TOKEN} and $${SIGNING_SECRET}", "cost": "$5"}
    record = DeadLetter.from_json(
        dead_letter(REF, _webhook(body=body), REPORT, SCRUBBER, SETTINGS).to_json()
    )
    environ = {"WEBHOOK_TOKEN": "real-token-value", "SIGNING_SECRET": "whsec_bmV3"}
    action = to_action(record, environ, SCOPE)
    assert action.body == body  # type: ignore[union-attr]
    assert action.headers["Authorization"] == "Bearer real-token-value"  # type: ignore[union-attr]


ENVIRON = {
    "WEBHOOK_TOKEN": "tok-value",
    "SIGNING_SECRET": "whsec_bmV3",
    "CLAIMX_API_TOKEN": "api-token-value",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
}


def _forged(secret_vars: tuple[str, ...] = (), **action: object) -> DeadLetter:
    """A record as an attacker would write it to the action DLQ topic."""
    data = json.loads(dead_letter(REF, _webhook(), REPORT, SCRUBBER, SETTINGS).to_json())
    data["action"] |= action
    data["secret_vars"] = [*data["secret_vars"], *secret_vars]
    return DeadLetter.from_json(json.dumps(data))


@pytest.mark.parametrize(
    ("record", "match"),
    [
        (
            _forged(("CLAIMX_API_TOKEN",), url="https://hooks.example.com/c?t=${CLAIMX_API_TOKEN}"),
            "CLAIMX_API_TOKEN",
        ),
        (
            _forged(("AWS_SECRET_ACCESS_KEY",), headers={"X-K": "${AWS_SECRET_ACCESS_KEY}"}),
            "AWS_SECRET_ACCESS_KEY",
        ),
        (_forged(url="http://127.0.0.1:8/collect"), r"endpoint http://127\.0\.0\.1:8 "),
    ],
)
def test_a_forged_record_cannot_choose_variables_or_destinations(
    record: DeadLetter, match: str
) -> None:
    with pytest.raises(UnreplayableError, match=match):
        to_action(record, ENVIRON, SCOPE)


def test_a_reference_not_listed_in_secret_vars_stays_text() -> None:
    record = _forged(headers={"X-K": "${AWS_SECRET_ACCESS_KEY}"})
    action = to_action(record, ENVIRON, SCOPE)
    assert action.headers["X-K"] == "${AWS_SECRET_ACCESS_KEY}"  # type: ignore[union-attr]


def test_a_forged_topic_is_refused() -> None:
    action = PublishToTopic(topic="claimx.triggers", value={"a": 1})
    data = json.loads(dead_letter(REF, action, REPORT, SCRUBBER, SETTINGS).to_json())
    data["action"]["topic"] = "someone.elses.topic"
    with pytest.raises(UnreplayableError, match=r"someone\.elses\.topic"):
        to_action(DeadLetter.from_json(json.dumps(data)), ENVIRON, SCOPE)


def test_a_record_signed_by_the_settings_is_signed_by_the_current_settings_or_not_sent() -> None:
    signed_by_settings = ActionSettings(signing_secret="whsec_c2V0dGluZ3M=")
    record = dead_letter(REF, _webhook(signing_secret=None), REPORT, SCRUBBER, signed_by_settings)
    assert record.signing is SigningSource.SETTINGS
    with pytest.raises(UnreplayableError, match="not sent unsigned"):
        to_action(record, ENVIRON, SCOPE)
    scope = attrs.evolve(SCOPE, settings=signed_by_settings)
    assert to_action(record, ENVIRON, scope).signing_secret is None  # type: ignore[union-attr]


def test_an_unsigned_record_says_so() -> None:
    record = dead_letter(REF, _webhook(signing_secret=None), REPORT, SCRUBBER, SETTINGS)
    assert record.signing is SigningSource.NONE


CRM = Connection("crm", ConnectionConfig(base_url="https://crm.example.com/api"), "crm.yaml")
CONNECTED_SCOPE = attrs.evolve(SCOPE, connections={"crm": CRM})


def _connection_record(url: str = "/tasks?x=1", connection: str = "crm") -> DeadLetter:
    webhook = _webhook(url=url, connection=connection, signing_secret=None)
    return DeadLetter.from_json(dead_letter(REF, webhook, REPORT, SCRUBBER, SETTINGS).to_json())


def test_a_connection_webhook_in_scope_is_replayed_with_its_path() -> None:
    action = to_action(_connection_record(), ENVIRON, CONNECTED_SCOPE)
    assert isinstance(action, Webhook)
    assert (action.connection, action.url) == ("crm", "/tasks?x=1")


def test_a_connection_the_instance_does_not_name_is_refused() -> None:
    with pytest.raises(UnreplayableError, match="connection 'crm' is not one"):
        to_action(_connection_record(), ENVIRON, SCOPE)
    with pytest.raises(UnreplayableError, match="connection 'other' is not one"):
        to_action(_connection_record(connection="other"), ENVIRON, CONNECTED_SCOPE)


@pytest.mark.parametrize(
    "path",
    [
        "//evil.example/x",
        "https://evil.example/x",
        "http://crm.example.com/api/x",
        "/..//evil.example/x",
        "/../..",
        "/tasks/./../../admin#x",
        "@evil.example/x",
        "tasks",
        "",
    ],
)
def test_a_connection_path_that_leaves_the_base_url_is_refused(path: str) -> None:
    with pytest.raises(UnreplayableError, match="connection 'crm'"):
        to_action(_connection_record(url=path), ENVIRON, CONNECTED_SCOPE)
