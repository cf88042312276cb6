"""Failure routing: classification, retry topic choice, headers, DLQ after the last delay."""

from __future__ import annotations

from confluent_kafka import KafkaError

from claimx_worker.errors import AuthError, InvalidEventError, PermanentError, TransientError
from claimx_worker.kafka.producer import DeliveryError
from claimx_worker.kafka.routing import (
    ATTEMPTS,
    DUE_MS,
    ERROR,
    ERROR_CATEGORY,
    ERROR_TYPE,
    FAILED_AT,
    ORIGINAL_OFFSET,
    ORIGINAL_PARTITION,
    ORIGINAL_TOPIC,
    VALUE_TRUNCATED,
    Origin,
    RetryTopicSchedule,
    classify_for_routing,
    header_text,
    read_retry_state,
    truncated,
)

SCHEDULE = RetryTopicSchedule(
    {
        "claimx.enrichment.retry.5m": ("5m", 300.0),
        "claimx.enrichment.retry.10m": ("10m", 600.0),
        "claimx.enrichment.retry.20m": ("20m", 1200.0),
        "claimx.enrichment.retry.40m": ("40m", 2400.0),
    },
    "claimx.enrichment.dlq",
)
ORIGIN = Origin("claimx.enrichment.pending", 3, 1234)
NOW = 1_800_000_000.0


def test_classification() -> None:
    assert classify_for_routing(TransientError("HTTP 503")).retryable
    assert classify_for_routing(TransientError("x")).category == "transient"
    for exc, category in [
        (PermanentError("HTTP 404"), "permanent"),
        (AuthError("HTTP 401"), "auth"),
        (InvalidEventError("event_id: missing"), "invalid_event"),
    ]:
        failure = classify_for_routing(exc)
        assert (failure.category, failure.retryable, failure.expected) == (category, False, True)
        assert failure.message == str(exc)
        assert failure.error_type == type(exc).__name__


def test_an_unexpected_exception_is_a_permanent_bug() -> None:
    failure = classify_for_routing(KeyError("project"))
    assert failure.category == "permanent"
    assert not failure.retryable
    assert not failure.expected
    assert failure.error_type == "KeyError"


def test_failed_deliveries_are_transient_unless_too_large() -> None:
    timed_out = classify_for_routing(DeliveryError(KafkaError(KafkaError._MSG_TIMED_OUT), "out"))
    assert (timed_out.category, timed_out.retryable) == ("transient", True)
    too_large = classify_for_routing(
        DeliveryError(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), "out")
    )
    assert (too_large.category, too_large.retryable) == ("permanent", False)


def test_error_messages_are_capped() -> None:
    assert len(classify_for_routing(TransientError("x" * 5000)).message) == 1000


def test_each_failed_attempt_goes_to_the_next_delay_then_the_dlq() -> None:
    failure = classify_for_routing(TransientError("HTTP 503"))
    topics = [
        SCHEDULE.route(failure, attempts=attempt, origin=ORIGIN, headers=None, now=NOW)
        for attempt in range(1, 6)
    ]
    assert [route.topic for route in topics] == [
        "claimx.enrichment.retry.5m",
        "claimx.enrichment.retry.10m",
        "claimx.enrichment.retry.20m",
        "claimx.enrichment.retry.40m",
        "claimx.enrichment.dlq",
    ]
    assert [route.delay_label for route in topics] == ["5m", "10m", "20m", "40m", None]
    first = dict(topics[0].headers)
    assert first[ATTEMPTS] == b"1"
    assert first[DUE_MS] == str(round((NOW + 300) * 1000)).encode()
    assert dict(topics[3].headers)[DUE_MS] == str(round((NOW + 2400) * 1000)).encode()
    last = dict(topics[4].headers)
    assert last[ATTEMPTS] == b"5"
    assert DUE_MS not in last
    assert (header_text(topics[4].headers, FAILED_AT) or "").startswith("2027-01-15T")


def test_a_permanent_failure_goes_to_the_dlq_at_once_with_its_source() -> None:
    route = SCHEDULE.route(
        classify_for_routing(PermanentError("HTTP 404 for project 42")),
        attempts=1,
        origin=ORIGIN,
        headers=[("traceparent", b"00-abc"), ("claimx-idempotency-key", b"k1")],
        now=NOW,
    )
    assert route.topic == "claimx.enrichment.dlq"
    headers = route.headers
    assert headers[:2] == [("traceparent", b"00-abc"), ("claimx-idempotency-key", b"k1")]
    values = dict(headers)
    assert values[ORIGINAL_TOPIC] == b"claimx.enrichment.pending"
    assert values[ORIGINAL_PARTITION] == b"3"
    assert values[ORIGINAL_OFFSET] == b"1234"
    assert values[ERROR] == b"HTTP 404 for project 42"
    assert values[ERROR_CATEGORY] == b"permanent"
    assert values[ERROR_TYPE] == b"PermanentError"


def test_routing_headers_are_replaced_not_duplicated() -> None:
    failure = classify_for_routing(TransientError("again"))
    first = SCHEDULE.route(failure, attempts=1, origin=ORIGIN, headers=[("a", b"1")], now=NOW)
    second = SCHEDULE.route(failure, attempts=2, origin=ORIGIN, headers=first.headers, now=NOW)
    names = [name for name, _ in second.headers]
    assert len(names) == len(set(names))
    assert header_text(second.headers, ATTEMPTS) == "2"
    assert ("a", b"1") in second.headers


def test_retry_state_round_trips_through_headers() -> None:
    route = SCHEDULE.route(
        classify_for_routing(TransientError("x")), attempts=2, origin=ORIGIN, headers=None, now=NOW
    )
    state = read_retry_state(route.headers, "claimx.enrichment.retry.10m", 0, 7)
    assert state.attempts == 2
    assert state.due_ms == round((NOW + 600) * 1000)
    assert state.origin == ORIGIN


def test_a_record_without_retry_headers_counts_as_new() -> None:
    state = read_retry_state([("claimx-attempts", b"junk")], "t", 1, 5)
    assert state.attempts == 0
    assert state.due_ms is None
    assert state.origin == Origin("t", 1, 5)


def test_no_delays_means_transient_failures_are_dead_lettered() -> None:
    schedule = RetryTopicSchedule({}, "dlq")
    route = schedule.route(
        classify_for_routing(TransientError("x")), attempts=1, origin=ORIGIN, headers=None, now=NOW
    )
    assert route.topic == "dlq"


def test_truncated_keeps_the_original_size() -> None:
    route = SCHEDULE.route(
        classify_for_routing(InvalidEventError("junk")),
        attempts=1,
        origin=ORIGIN,
        headers=None,
        now=NOW,
    )
    cut_route, value = truncated(route, b"x" * 100_000, 10)
    assert value == b"x" * 10
    assert dict(cut_route.headers)[VALUE_TRUNCATED] == b"100000"
    again, empty = truncated(cut_route, b"x" * 100_000, 0)
    assert empty == b""
    assert [name for name, _ in again.headers].count(VALUE_TRUNCATED) == 1
