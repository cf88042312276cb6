"""Failure routing: classification, retry topic choice, headers, DLQ after the last delay."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from claimx_worker.errors import AuthError, InvalidEventError, PermanentError, TransientError
from claimx_worker.http.breaker import CircuitOpenError
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
    RetryState,
    RetryTopicSchedule,
    classify_for_routing,
    header_text,
    read_retry_state,
    record_headers,
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


def test_a_deferred_failure_keeps_its_retries_and_waits_at_the_last_delay() -> None:
    """An open circuit (or a rate limit) spends no attempt: the event goes back to the topic of
    its last counted failure (the first topic when there was none) with its count unchanged."""
    deferred = classify_for_routing(CircuitOpenError("circuit open", retry_after=12.0))
    assert deferred.retryable
    assert not deferred.spends_attempt
    assert classify_for_routing(TransientError("HTTP 503")).spends_attempt
    for counted, topic in [
        (0, "claimx.enrichment.retry.5m"),
        (1, "claimx.enrichment.retry.5m"),
        (2, "claimx.enrichment.retry.10m"),
        (4, "claimx.enrichment.retry.40m"),
    ]:
        route = SCHEDULE.route(deferred, attempts=counted, origin=ORIGIN, headers=None, now=NOW)
        assert route.topic == topic
        assert dict(route.headers)[ATTEMPTS] == str(counted).encode()


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
    state = read_retry_state(
        route.headers, "claimx.enrichment.retry.10m", 0, 7, now_ms=NOW * 1000, delay_seconds=600
    )
    assert state.attempts == 2
    assert state.due_ms == round((NOW + 600) * 1000)
    assert state.origin == ORIGIN


def _state(*headers: tuple[str, bytes | None]) -> RetryState:
    return read_retry_state(list(headers), "t", 1, 5, now_ms=NOW * 1000, delay_seconds=300)


def test_a_record_without_retry_headers_counts_as_new() -> None:
    state = _state((ATTEMPTS, b"junk"))
    assert state.attempts == 0
    assert state.due_ms is None
    assert state.origin == Origin("t", 1, 5)


LATEST_DUE_MS = round(NOW * 1000) + 300_000


@pytest.mark.parametrize(
    ("value", "due_ms"),
    [
        (b"9" * 400, LATEST_DUE_MS),  # once an OverflowError that crash-looped the worker
        (b"9" * 5000, LATEST_DUE_MS),  # beyond int()'s digit limit
        (str(LATEST_DUE_MS + 1).encode(), LATEST_DUE_MS),  # never later than the topic's delay
        (str(LATEST_DUE_MS - 1).encode(), LATEST_DUE_MS - 1),
        (b"000123", 123),
        (b"-5", 0),  # never before 0
        (b"-" + b"9" * 400, 0),
        (b"\xff\xfe", None),  # unreadable: due at once
        (b"12_000", None),
        (b" 12", None),
        (b"1e9", None),
        (b"\xd9\xa1", None),  # ARABIC-INDIC DIGIT ONE: int() takes it, the runtime never writes it
        (b"", None),
        (None, None),
    ],
)
def test_a_due_time_is_clamped_between_0_and_the_topics_delay_from_now(
    value: bytes | None, due_ms: int | None
) -> None:
    assert _state((DUE_MS, value)).due_ms == due_ms


@pytest.mark.parametrize(
    ("value", "attempts"),
    [
        (b"3", 3),
        (b"-3", 0),
        (b"9" * 400, 0),
        (b"9" * 5000, 0),
        (b"\xff", 0),
        (b"+2", 0),
        (b"", 0),
        (None, 0),
    ],
)
def test_an_unusable_attempts_value_reads_as_0(value: bytes | None, attempts: int) -> None:
    assert _state((ATTEMPTS, value)).attempts == attempts


def test_the_last_of_duplicated_headers_counts() -> None:
    state = _state((ATTEMPTS, b"1"), (ATTEMPTS, b"2"), (DUE_MS, b"7"), (DUE_MS, b"junk"))
    assert (state.attempts, state.due_ms) == (2, None)


@pytest.mark.parametrize(
    "origin",
    [
        [(ORIGINAL_TOPIC, b"in"), (ORIGINAL_PARTITION, b"-1"), (ORIGINAL_OFFSET, b"7")],
        [(ORIGINAL_TOPIC, b"in"), (ORIGINAL_PARTITION, b"2"), (ORIGINAL_OFFSET, b"9" * 400)],
        [
            (ORIGINAL_TOPIC, b"in"),
            (ORIGINAL_PARTITION, str(2**31).encode()),
            (ORIGINAL_OFFSET, b"7"),
        ],
        [(ORIGINAL_TOPIC, b"\xc3("), (ORIGINAL_PARTITION, b"2"), (ORIGINAL_OFFSET, b"7")],
        [(ORIGINAL_TOPIC, b"a/b"), (ORIGINAL_PARTITION, b"2"), (ORIGINAL_OFFSET, b"7")],
        [(ORIGINAL_TOPIC, b"x" * 250), (ORIGINAL_PARTITION, b"2"), (ORIGINAL_OFFSET, b"7")],
        [(ORIGINAL_PARTITION, b"2"), (ORIGINAL_OFFSET, b"7")],
    ],
)
def test_an_unusable_origin_is_the_records_own(origin: list[tuple[str, bytes]]) -> None:
    assert _state(*origin).origin == Origin("t", 1, 5)


def test_a_valid_origin_is_kept() -> None:
    origin = [
        (ORIGINAL_TOPIC, b"in.topic-1_x"),
        (ORIGINAL_PARTITION, b"2"),
        (ORIGINAL_OFFSET, b"7"),
    ]
    assert _state(*origin).origin == Origin("in.topic-1_x", 2, 7)


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


class _Record:
    """A consumed record whose header names are not UTF-8, as confluent-kafka hands it over."""

    def __init__(self) -> None:
        self.replaced_by: list[tuple[str, bytes | None]] | None = None

    def headers(self) -> list[tuple[str, bytes | None]]:
        if self.replaced_by is not None:
            return self.replaced_by
        raise SystemError("<method 'headers'> returned a result with an exception set")

    def set_headers(self, headers: list[tuple[str, bytes | None]]) -> None:
        self.replaced_by = headers


def test_a_record_whose_header_names_are_not_utf8_reads_as_one_without_headers() -> None:
    record = _Record()
    assert record_headers(record) == []  # type: ignore[arg-type]
    assert record.replaced_by == []  # the broken list is never read again
    assert record_headers(record) == []  # type: ignore[arg-type]
