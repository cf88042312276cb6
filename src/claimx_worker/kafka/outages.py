"""Quiet outages: while Kafka cannot be reached, one line when the connection is lost, a summary
every :data:`SUMMARY_SECONDS` while it stays down, and one line when it is back.

Without this, every client (the consumer, each producer, the admin clients) logged every
reconnection attempt twice, librdkafka's ``FAIL`` line as an error and its error callback as a
warning: about 2,700 near-identical lines for one broker restart. Every client's connection
failures reach :data:`~.clients.LIBRDKAFKA_LOGGER` (librdkafka's log lines directly, error
callbacks through :func:`report_client_error`); :class:`ConnectionWatch`, a filter on that
logger while the runtime runs, swallows them and speaks for them. It notices that the cluster
answers again by asking it for metadata every :data:`PROBE_SECONDS` while it is down.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import NoReturn

from confluent_kafka import KafkaError
from loguru import logger

from claimx_worker.kafka.clients import LIBRDKAFKA_LOGGER

SUMMARY_SECONDS = 30.0
PROBE_SECONDS = 1.0
_CONNECTION_FACILITIES = frozenset({"FAIL"})
"""librdkafka's log facility of a failed or lost broker connection."""
_CONNECTION_CODES = frozenset(
    {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE}
)
_CODE = "kafka_error_code"


def report_client_error(client: str, error: KafkaError) -> None:
    """Log a Kafka client's non-fatal error (its ``error_cb``) through
    :data:`~.clients.LIBRDKAFKA_LOGGER`, where a :class:`ConnectionWatch` quiets outages."""
    LIBRDKAFKA_LOGGER.warning(
        "Kafka %s error: %s (%s)", client, error.str(), error.name(), extra={_CODE: error.code()}
    )


class ConnectionWatch(logging.Filter):
    """Collapses the connection failures of every Kafka client into three kinds of line.

    ``probe`` (blocking, run off the loop) says whether the cluster answers; :meth:`run` calls
    it while the connection is down, and writes the summaries. :meth:`install` it on the logger.
    """

    def __init__(
        self,
        probe: Callable[[], bool],
        *,
        summary_seconds: float = SUMMARY_SECONDS,
        probe_seconds: float = PROBE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._probe = probe
        self._summary_seconds = summary_seconds
        self._probe_seconds = probe_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._last_summary = 0.0
        self._suppressed = 0
        self._last_error = ""

    @property
    def down(self) -> bool:
        """Whether the connection is lost (a failure seen, the cluster not answering since)."""
        return self._down_since is not None

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every line but a connection failure (that one is noted instead)."""
        if not _is_connection_failure(record):
            return True
        error = _error_text(record)
        with self._lock:
            self._last_error = error
            if self._down_since is not None:
                self._suppressed += 1
                return False
            self._down_since = self._last_summary = self._clock()
            self._suppressed = 0
        logger.bind(error=error).warning("Kafka connection lost")
        return False

    def tick(self) -> None:
        """While down: the cluster answers again, or a summary is due (blocking: the probe)."""
        if self._down_since is None:
            return
        if self._probe():
            with self._lock:
                since, self._down_since = self._down_since, None
                suppressed = self._suppressed
            if since is not None:
                logger.bind(
                    down_seconds=round(self._clock() - since, 1), suppressed_lines=suppressed
                ).info("Kafka connection restored")
            return
        now = self._clock()
        with self._lock:
            since = self._down_since
            if since is None or now - self._last_summary < self._summary_seconds:
                return
            self._last_summary = now
            suppressed, error = self._suppressed, self._last_error
        logger.bind(
            down_seconds=round(now - since, 1), suppressed_lines=suppressed, last_error=error
        ).warning("Kafka still unreachable")

    async def run(self) -> NoReturn:
        """Tick every ``probe_seconds`` until cancelled."""
        while True:
            await asyncio.sleep(self._probe_seconds)
            if self.down:
                await asyncio.to_thread(self.tick)

    def install(self) -> None:
        """Start filtering :data:`~.clients.LIBRDKAFKA_LOGGER` (process-wide)."""
        LIBRDKAFKA_LOGGER.addFilter(self)

    def uninstall(self) -> None:
        """Stop filtering."""
        LIBRDKAFKA_LOGGER.removeFilter(self)


def _is_connection_failure(record: logging.LogRecord) -> bool:
    code = getattr(record, _CODE, None)
    if code is not None:
        return code in _CONNECTION_CODES
    args = record.args
    return isinstance(args, tuple) and len(args) == 3 and args[0] in _CONNECTION_FACILITIES


def _error_text(record: logging.LogRecord) -> str:
    args = record.args
    if getattr(record, _CODE, None) is None and isinstance(args, tuple) and len(args) == 3:
        return str(args[2])  # librdkafka's line without its facility and client name
    return record.getMessage()
