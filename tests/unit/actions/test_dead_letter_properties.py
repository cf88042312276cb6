"""Action DLQ records are untrusted: whatever a record on the action DLQ topic holds, parsing
it and turning it back into an action raise only the documented errors."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.fuzz.targets import DEAD_LETTER, ENVIRON, SCOPE, dead_letter
from tests.strategies import JSON_SCALARS, JSON_VALUES

from claimx_worker.actions.dead_letter import (
    DeadLetter,
    InvalidDeadLetterError,
    UnreplayableError,
    to_action,
)
from claimx_worker.actions.secrets import MissingSecretError
from claimx_worker.model import Webhook

_ACTION_FIELDS = st.sampled_from(
    ["url", "method", "headers", "body", "timeout", "topic", "key", "value", "signing_secret"]
)
_TEXT_WITH_REFERENCES = st.sampled_from(["${WEBHOOK_TOKEN}", "${UNSET}", "$$", "${", "x"]) | (
    st.text(max_size=10)
)
_ACTIONS = st.fixed_dictionaries(
    {"type": st.sampled_from(["webhook", "publish_to_topic"]) | st.just("webhook") | JSON_VALUES},
    optional={
        "url": st.just("https://hooks.example.com/x?t=${WEBHOOK_TOKEN}") | JSON_VALUES,
        "headers": st.dictionaries(st.text(max_size=8), _TEXT_WITH_REFERENCES) | JSON_VALUES,
        "topic": st.just("claimx.out") | JSON_VALUES,
    },
).flatmap(
    lambda base: st.dictionaries(_ACTION_FIELDS, JSON_VALUES | _TEXT_WITH_REFERENCES).map(
        lambda extra: extra | base
    )
)
_RECORDS = st.fixed_dictionaries(
    {"action": _ACTIONS},
    optional={
        "payload_encoding": st.sampled_from(["json", "base64", "repr"]) | JSON_SCALARS,
        "secret_vars": st.lists(st.sampled_from(["WEBHOOK_TOKEN", "UNSET", "KAFKA_TOPIC"])),
        "masked_headers": st.lists(st.text(max_size=8)) | JSON_VALUES,
        "signing_secret_var": st.sampled_from(["WEBHOOK_TOKEN", "UNSET", "no name"]),
        "record_version": st.integers(0, 3) | JSON_SCALARS,
        "attempts": JSON_VALUES,
        "dead_lettered_at": JSON_VALUES,
    },
)


def _refused(data: bytes | str | None) -> str | None:
    """Why ``from_json`` refused ``data`` (a non-empty reason), or ``None`` when it parsed."""
    try:
        DeadLetter.from_json(data)
    except InvalidDeadLetterError as error:
        reason = str(error)
    else:
        return None
    assert reason
    return reason


@given(st.binary(max_size=400))
def test_any_bytes_raise_only_documented_errors(data: bytes) -> None:
    dead_letter(data)


@given(JSON_VALUES)
def test_any_json_is_a_record_or_an_invalid_dead_letter(value: Any) -> None:
    _refused(json.dumps(value))


@given(_RECORDS)
@settings(max_examples=150)
def test_any_record_shaped_json_becomes_an_action_or_raises_a_documented_error(
    fields: dict[str, Any],
) -> None:
    try:
        record = DeadLetter.from_json(json.dumps(DEAD_LETTER | fields))
    except InvalidDeadLetterError:
        return
    try:
        to_action(record, ENVIRON, SCOPE)
    except (MissingSecretError, UnreplayableError) as error:
        reason = str(error)
    else:
        return
    assert reason


def test_deep_nesting_and_huge_numbers_are_invalid_dead_letters() -> None:
    assert _refused("[" * 100_000 + "]" * 100_000)
    assert _refused(json.dumps(DEAD_LETTER)[:-1] + ',"x":' + "9" * 5000 + "}")
    assert _refused(b"\xff\xfe")
    assert _refused(json.dumps({k: v for k, v in DEAD_LETTER.items() if k != "action"}))
    assert _refused(None)  # a tombstone


def test_the_valid_record_replays() -> None:
    action = to_action(DeadLetter.from_json(json.dumps(DEAD_LETTER)), ENVIRON, SCOPE)
    assert isinstance(action, Webhook)
    assert action.url == "https://hooks.example.com/x?t=" + ENVIRON["WEBHOOK_TOKEN"]
