"""Retry and DLQ headers over any input: reading a record's retry state never raises and stays
within bounds, and the headers of every retry or DLQ record written read back as written."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.fuzz.targets import DELAY_SECONDS, NOW_MS, RETRY_TOPIC, check_retry_state, retry_headers

from claimx_worker.errors import PermanentError, TransientError
from claimx_worker.http.breaker import CircuitOpenError
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
    ROUTING_HEADERS,
    VALUE_TRUNCATED,
    HeaderList,
    Origin,
    RetryTopicSchedule,
    classify_for_routing,
    read_retry_state,
    truncated,
)

_NUMBERS = st.integers(min_value=-(10**30), max_value=10**30) | st.integers(
    min_value=10**399, max_value=10**401
)
_VALUES = (
    st.none()
    | st.binary(max_size=30)
    | _NUMBERS.map(lambda n: str(n).encode())
    | st.text(max_size=20).map(lambda text: text.encode("utf-8", "surrogatepass"))
)
_NAMES = st.sampled_from(sorted(ROUTING_HEADERS)) | st.text(max_size=12)
_HEADERS = st.lists(st.tuples(_NAMES, _VALUES), max_size=12)
_TOPICS = st.from_regex(r"[a-zA-Z0-9._-]{1,40}", fullmatch=True)
_ORIGINS = st.builds(Origin, _TOPICS, st.integers(0, 2**31 - 1), st.integers(0, 10**18 - 1))
_FAILURES = st.builds(TransientError, st.text(max_size=50)) | st.builds(
    PermanentError, st.text(st.characters() | st.characters(categories=["Cs"]), max_size=50)
)  # lone surrogates too: an error message may quote any text
_RETRY_TOPICS = {RETRY_TOPIC: ("5m", DELAY_SECONDS), "claimx.enrichment.retry.10m": ("10m", 600.0)}
SCHEDULE = RetryTopicSchedule(_RETRY_TOPICS, "dlq")
_ONCE = [ATTEMPTS, ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET, ERROR, ERROR_CATEGORY]


@given(st.binary(max_size=300))
def test_retry_headers_cut_from_any_bytes_read_within_bounds(data: bytes) -> None:
    retry_headers(data)


@given(_HEADERS)
@settings(max_examples=200)
def test_any_headers_read_within_bounds(headers: HeaderList) -> None:
    check_retry_state(headers)


@given(_HEADERS, st.integers(1, 4), _ORIGINS, _FAILURES)
@settings(max_examples=150)
def test_retry_and_dlq_records_carry_each_routing_header_once_and_read_back(
    headers: HeaderList, attempts: int, origin: Origin, error: Exception
) -> None:
    now = NOW_MS / 1000
    route = SCHEDULE.route(
        classify_for_routing(error), attempts=attempts, origin=origin, headers=headers, now=now
    )
    names = [name for name, _ in route.headers]
    assert all(names.count(name) == 1 for name in [*_ONCE, ERROR_TYPE])
    assert names.count(DUE_MS) + names.count(FAILED_AT) == 1
    assert [h for h in route.headers if h[0] not in ROUTING_HEADERS] == [
        h for h in headers if h[0] not in ROUTING_HEADERS
    ]
    for name, value in route.headers:
        if name in ROUTING_HEADERS:
            assert value is not None
            value.decode()  # UTF-8, whatever the error message held
    _, delay = _RETRY_TOPICS.get(route.topic, ("", DELAY_SECONDS))
    state = read_retry_state(route.headers, route.topic, 0, 0, now_ms=NOW_MS, delay_seconds=delay)
    assert (state.attempts, state.origin) == (attempts, origin)
    if route.delay_label is not None:  # written as due one delay from now: read as written
        assert state.due_ms == NOW_MS + delay * 1000


@given(_HEADERS, st.integers(0, len(_RETRY_TOPICS)), _ORIGINS)
def test_a_deferred_failure_never_spends_an_attempt_nor_reaches_the_dlq(
    headers: HeaderList, counted: int, origin: Origin
) -> None:
    """However often an event meets an open circuit, it keeps its count and its retries (a
    count past the schedule, which only a forged header can give, goes to the DLQ)."""
    route = SCHEDULE.route(
        classify_for_routing(CircuitOpenError("circuit open")),
        attempts=counted,
        origin=origin,
        headers=headers,
        now=NOW_MS / 1000,
    )
    assert route.delay_label is not None
    _, delay = _RETRY_TOPICS[route.topic]
    state = read_retry_state(route.headers, route.topic, 0, 0, now_ms=NOW_MS, delay_seconds=delay)
    assert state.attempts == counted


@given(_HEADERS, st.binary(max_size=100), st.integers(0, 120))
def test_a_truncated_record_records_its_size_once(
    headers: HeaderList, value: bytes, size: int
) -> None:
    route = SCHEDULE.route(
        classify_for_routing(PermanentError("x")),
        attempts=1,
        origin=Origin("in", 0, 0),
        headers=headers,
        now=NOW_MS / 1000,
    )
    cut, kept = truncated(route, value, size)
    assert kept == value[:size]
    assert [v for k, v in cut.headers if k == VALUE_TRUNCATED] == [str(len(value)).encode()]
