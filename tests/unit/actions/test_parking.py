"""Parking's pure parts: the policies of the two phases, the redelivery runtime's settings, and
parked records read as untrusted input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claimx_worker.actions import ActionSettings
from claimx_worker.actions.parking import (
    GROUP_SUFFIX,
    decode_parked_record,
    parked_runtime_settings,
)
from claimx_worker.errors import InvalidEventError
from claimx_worker.kafka.settings import KafkaSettings
from claimx_worker.settings import WorkerSettings


def test_a_webhook_is_retried_in_its_events_path_up_to_park_after_then_until_max_age() -> None:
    settings = ActionSettings(park_after=5, max_age=600, max_attempts=8)
    parking = settings.parking_policy(settings.retry_policy)
    parked = settings.parked_policy(settings.retry_policy)
    assert (parking.max_age, parking.max_attempts) == (5, 8)
    assert parked.max_age == 600
    assert parked.max_attempts > 10**9  # a parked webhook is limited by age
    late = ActionSettings(park_after=900, max_age=600)
    assert late.parking_policy(late.retry_policy).max_age == 600


def test_the_redelivery_runtime_consumes_the_action_retry_topic_in_a_group_of_its_own() -> None:
    kafka: KafkaSettings = WorkerSettings().kafka
    parked = parked_runtime_settings(kafka)
    worker = parked.worker
    assert worker.topics.pending == "claimx.actions.retry"
    assert worker.topics.dlq == "claimx.actions.dlq"
    assert worker.retry_topics() == {}
    assert worker.consumer_group == "claimx-enrichment-worker" + GROUP_SUFFIX
    assert worker.processing.drain_deadline_seconds <= 5
    assert parked.bootstrap_servers == kafka.bootstrap_servers


@given(st.binary(max_size=200))
def test_any_bytes_that_are_not_a_record_are_an_invalid_event(value: bytes) -> None:
    with pytest.raises(InvalidEventError, match="not a parked action record"):
        decode_parked_record(value)
