"""Idempotency keys: deterministic per (event, instance, index), distinct otherwise."""

from __future__ import annotations

import uuid

from claimx_worker.actions.identity import (
    HTTP_IDEMPOTENCY_HEADER,
    KAFKA_IDEMPOTENCY_HEADER,
    ActionRef,
    idempotency_key,
)


def test_the_key_travels_in_one_header_per_transport() -> None:
    assert HTTP_IDEMPOTENCY_HEADER == "Idempotency-Key"
    assert KAFKA_IDEMPOTENCY_HEADER == "idempotency_key"


def test_same_inputs_same_key() -> None:
    assert idempotency_key("evt-1", "task_trigger", 0) == idempotency_key(
        "evt-1", "task_trigger", 0
    )
    assert uuid.UUID(idempotency_key("evt-1", "task_trigger", 0)).version == 5


def test_any_difference_changes_the_key() -> None:
    keys = {
        idempotency_key(event, instance, index)
        for event in ("evt-1", "evt-2")
        for instance in ("a", "b", "a\x1f1")
        for index in (0, 1, 10)
    }
    assert len(keys) == 18


def test_ref_derives_its_key() -> None:
    ref = ActionRef(event_id="evt-1", project_id="12345", instance="a", index=2)
    assert ref.key == idempotency_key("evt-1", "a", 2)
