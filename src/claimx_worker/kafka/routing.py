"""Failure routing: which exception goes where (retry topic or DLQ) and the headers it carries.

Retry and DLQ records keep the original value and key byte for byte and the original headers,
plus these headers (values are UTF-8 text):

==========================  ===========================================================
``claimx-attempts``         processing attempts made so far, all failed (``1`` after the first)
``claimx-due-ms``           retry records: epoch milliseconds when the retry is due
``claimx-original-topic``   where the event was first consumed (not a retry topic)
``claimx-original-partition``, ``claimx-original-offset``   likewise
``claimx-error``            the last error's message (at most 1,000 characters)
``claimx-error-category``   ``invalid_event``, ``auth``, ``permanent`` or ``transient``
``claimx-error-type``       the exception class, e.g. ``TransientError``
``claimx-failed-at``        DLQ records: ISO-8601 UTC time of the write
``claimx-value-truncated``  DLQ records too large for the DLQ topic: the original value size
                            (the value is then the first :data:`TRUNCATED_VALUE_BYTES` bytes)
==========================  ===========================================================

Every header is read as untrusted (:func:`read_retry_state`): a malformed, huge, negative,
non-UTF-8, duplicated or missing value never raises, and never holds a partition longer than
its retry topic's delay.

Error messages come from :class:`~claimx_worker.errors.ProcessingError` subclasses, which by
contract hold no secrets.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from attrs import frozen
from confluent_kafka import Message

from claimx_worker.errors import ErrorCategory, ProcessingError
from claimx_worker.kafka.producer import DeliveryError

ATTEMPTS = "claimx-attempts"
DUE_MS = "claimx-due-ms"
ORIGINAL_TOPIC = "claimx-original-topic"
ORIGINAL_PARTITION = "claimx-original-partition"
ORIGINAL_OFFSET = "claimx-original-offset"
ERROR = "claimx-error"
ERROR_CATEGORY = "claimx-error-category"
ERROR_TYPE = "claimx-error-type"
FAILED_AT = "claimx-failed-at"
VALUE_TRUNCATED = "claimx-value-truncated"

ROUTING_HEADERS = frozenset(
    {
        ATTEMPTS,
        DUE_MS,
        ORIGINAL_TOPIC,
        ORIGINAL_PARTITION,
        ORIGINAL_OFFSET,
        ERROR,
        ERROR_CATEGORY,
        ERROR_TYPE,
        FAILED_AT,
        VALUE_TRUNCATED,
    }
)
"""Headers the runtime writes; they are replaced, never duplicated, when an event moves on."""

MAX_ERROR_CHARS = 1000
TRUNCATED_VALUE_BYTES = 64 * 1024

HeaderList = list[tuple[str, bytes | None]]


@frozen
class Origin:
    """Where an event was first consumed: the input topic's coordinates, kept across retries."""

    topic: str
    partition: int
    offset: int


@frozen
class RoutedFailure:
    """A failed event's error as the routing sees it: its category, whether it may be retried,
    and the message and type its retry or DLQ record carries."""

    category: str
    retryable: bool
    message: str
    error_type: str
    expected: bool
    """False for exceptions that are not :class:`ProcessingError`: bugs, logged with traceback."""
    spends_attempt: bool = True
    """False for a :class:`~claimx_worker.errors.DeferredError` ("not now", e.g. an open
    circuit): the event is retried without spending one of its retries."""


def classify_for_routing(exc: BaseException) -> RoutedFailure:
    """Classify an exception from decoding, processing, an output's delivery or deferred work for
    retry or DLQ routing.

    :class:`ProcessingError` subclasses carry their category; a failed output delivery is
    transient unless the output is too large; anything else is a bug and permanent.
    """
    name = type(exc).__name__
    message = str(exc)[:MAX_ERROR_CHARS] or name
    if isinstance(exc, ProcessingError):
        return RoutedFailure(
            str(exc.category),
            exc.retryable,
            message,
            name,
            expected=True,
            spends_attempt=exc.spends_attempt,
        )
    if isinstance(exc, DeliveryError):
        category = ErrorCategory.PERMANENT if exc.too_large else ErrorCategory.TRANSIENT
        return RoutedFailure(str(category), not exc.too_large, message, name, expected=True)
    return RoutedFailure(str(ErrorCategory.PERMANENT), False, message, name, expected=False)


@frozen
class RetryState:
    """What a consumed record says about its earlier attempts."""

    attempts: int
    """Failed attempts before this delivery (0 for a record from the input topic)."""
    due_ms: int | None
    origin: Origin


_HEADERS = operator.methodcaller("headers")


def record_headers(message: Message) -> HeaderList:
    """A consumed record's headers; none at all when one of their names is not UTF-8.

    For such a record confluent-kafka's ``headers()`` returns a list holding a NULL item with an
    exception set: reading the list crashes the interpreter, and a call from specialised
    bytecode does not even raise. The call here goes through C (``operator.methodcaller``,
    which checks the result and raises :class:`SystemError`), and the broken list is replaced
    at once, so no later call can see it.
    """
    try:
        return list(_HEADERS(message) or ())
    except SystemError:
        message.set_headers([])
        return []


def header_text(headers: Sequence[tuple[str, bytes | None]] | None, name: str) -> str | None:
    """The last value of header ``name`` as text (invalid UTF-8 replaced), or ``None``."""
    found: str | None = None
    for key, value in headers or ():
        if key == name and value is not None:
            found = value.decode("utf-8", "replace")
    return found


_INTEGER = re.compile(r"-?[0-9]+")
_MAX_DIGITS = 18
_SATURATED = 10**_MAX_DIGITS
"""Integers of more digits read as this (with their sign): no header is too large to compute
with, and none of them is a value the runtime writes."""
_TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")  # Kafka's legal topic names
_MAX_PARTITION = 2**31 - 1


def _int_header(headers: Sequence[tuple[str, bytes | None]] | None, name: str) -> int | None:
    """The last value of header ``name`` as a plain ASCII decimal integer, saturated at
    ±10**18; ``None`` when missing or not one (signs other than ``-``, spaces, ``_``, other
    digits)."""
    text = header_text(headers, name)
    if text is None or _INTEGER.fullmatch(text) is None:
        return None
    digits = text.lstrip("-").lstrip("0")
    magnitude = _SATURATED if len(digits) > _MAX_DIGITS else int(digits or "0")
    return -magnitude if text.startswith("-") else magnitude


def read_retry_state(
    headers: Sequence[tuple[str, bytes | None]] | None,
    topic: str,
    partition: int,
    offset: int,
    *,
    now_ms: float,
    delay_seconds: float,
) -> RetryState:
    """Read the state of a record on the retry topic ``topic`` (whose delay is
    ``delay_seconds``), fetched at ``now_ms``. Its headers are untrusted; this never raises.

    - ``claimx-attempts``: an unusable value (missing, malformed, negative, more than 18 digits)
      reads as 0. Every retry record the runtime writes carries a valid count again, so the
      event still goes through the schedule once and is never retried forever; and a header a
      producer could forge as ``0`` anyway is no reason to withhold the retries.
    - ``claimx-due-ms``: clamped between 0 and ``now_ms`` plus the topic's delay (a record never
      holds its partition longer than the delay its topic stands for); a missing or malformed
      value means due at once.
    - ``claimx-original-*``: unless all three are usable (a legal topic name, a partition in
      Kafka's range, an offset of at most 18 digits), the origin is the record's own position.
    - A duplicated header counts with its last value.
    """
    attempts = _int_header(headers, ATTEMPTS)
    if attempts is None or not 0 <= attempts < _SATURATED:
        attempts = 0
    due_ms = _int_header(headers, DUE_MS)
    if due_ms is not None:
        due_ms = min(max(0, due_ms), round(now_ms + delay_seconds * 1000))
    return RetryState(attempts, due_ms, _read_origin(headers, topic, partition, offset))


def _read_origin(
    headers: Sequence[tuple[str, bytes | None]] | None, topic: str, partition: int, offset: int
) -> Origin:
    origin_topic = header_text(headers, ORIGINAL_TOPIC)
    origin_partition = _int_header(headers, ORIGINAL_PARTITION)
    origin_offset = _int_header(headers, ORIGINAL_OFFSET)
    if (
        origin_topic is None
        or _TOPIC_NAME.fullmatch(origin_topic) is None
        or origin_partition is None
        or not 0 <= origin_partition <= _MAX_PARTITION
        or origin_offset is None
        or not 0 <= origin_offset < _SATURATED
    ):
        return Origin(topic, partition, offset)
    return Origin(origin_topic, origin_partition, origin_offset)


@frozen
class Route:
    """Where a failed event goes next."""

    topic: str
    headers: HeaderList
    delay_label: str | None
    """The retry delay (e.g. ``5m``), or ``None`` for the DLQ."""


class RetryTopicSchedule:
    """The retry topics in attempt order, then the DLQ: picks where a failed attempt goes.

    ``retry_topics`` maps each retry topic to ``(delay label, delay seconds)`` in retry order: the
    first failure goes to the first topic, the n-th to the n-th; a failure after the last retry,
    or one that is not retryable, goes to ``dlq_topic``. A failure that spends no attempt
    (:attr:`RoutedFailure.spends_attempt`) goes back to the topic of the last counted failure
    (the first topic when there was none) with the count unchanged: however long a destination
    says "not now", the event keeps all its retries, and each of them reaches the destination.
    """

    def __init__(self, retry_topics: Mapping[str, tuple[str, float]], dlq_topic: str) -> None:
        self._retries = list(retry_topics.items())
        self.dlq_topic = dlq_topic

    @property
    def max_retries(self) -> int:
        """How many retries an event gets (the number of delays)."""
        return len(self._retries)

    def route(
        self,
        failure: RoutedFailure,
        *,
        attempts: int,
        origin: Origin,
        headers: Sequence[tuple[str, bytes | None]] | None,
        now: float,
    ) -> Route:
        """The route for an event whose ``attempts``-th processing attempt failed at ``now``
        (for a failure that spends no attempt: ``attempts`` failed attempts were counted before
        this one)."""
        kept: HeaderList = [(k, v) for k, v in headers or () if k not in ROUTING_HEADERS]
        kept += [
            (ATTEMPTS, str(attempts).encode()),
            (ORIGINAL_TOPIC, origin.topic.encode()),
            (ORIGINAL_PARTITION, str(origin.partition).encode()),
            (ORIGINAL_OFFSET, str(origin.offset).encode()),
            (ERROR, failure.message.encode("utf-8", "replace")),
            (ERROR_CATEGORY, failure.category.encode()),
            (ERROR_TYPE, failure.error_type.encode()),
        ]
        step = attempts if failure.spends_attempt else max(attempts, 1)
        if failure.retryable and step <= len(self._retries):
            topic, (label, seconds) = self._retries[step - 1]
            due_ms = round((now + seconds) * 1000)
            return Route(topic, [*kept, (DUE_MS, str(due_ms).encode())], label)
        failed_at = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
        return Route(self.dlq_topic, [*kept, (FAILED_AT, failed_at.encode())], None)


def truncated(route: Route, value: bytes, size: int) -> tuple[Route, bytes]:
    """A route and value for a record too large to write: the value cut to ``size`` bytes, and
    ``claimx-value-truncated`` giving the original length."""
    headers = [(k, v) for k, v in route.headers if k != VALUE_TRUNCATED]
    headers.append((VALUE_TRUNCATED, str(len(value)).encode()))
    return Route(route.topic, headers, route.delay_label), value[:size]
