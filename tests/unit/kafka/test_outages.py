"""The connection watch: librdkafka's connection failures become one line when lost, a summary
while down, one line when back; other lines pass."""

from __future__ import annotations

import io

import pytest
from confluent_kafka import KafkaError

from claimx_worker.kafka.clients import LIBRDKAFKA_LOGGER
from claimx_worker.kafka.outages import ConnectionWatch, report_client_error
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.redaction import Redactor

REFUSED = "127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed: Connection refused"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def output(restore_logging: None) -> io.StringIO:
    sink = io.StringIO()
    configure_logging(redactor=Redactor(), level="INFO", sink=sink)
    return sink


def librdkafka_line(facility: str, text: str) -> None:
    """A line as confluent-kafka logs it: ``"%s [%s] %s" % (facility, client, text)``."""
    LIBRDKAFKA_LOGGER.error("%s [%s] %s", facility, "rdkafka#consumer-1", text)


def test_an_outage_is_three_kinds_of_line(output: io.StringIO) -> None:
    clock, answers = Clock(), [False]
    watch = ConnectionWatch(lambda: answers[0], summary_seconds=30, clock=clock)
    watch.install()
    try:
        for second in range(70):
            clock.now = float(second)
            librdkafka_line("FAIL", REFUSED)
            report_client_error("producer", KafkaError(KafkaError._TRANSPORT, REFUSED))
            report_client_error("consumer", KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 down"))
            watch.tick()
        librdkafka_line("SESSTMOUT", "Consumer group session timed out")
        answers[0] = True
        clock.now = 71.0
        watch.tick()
        watch.tick()
    finally:
        watch.uninstall()
    lines = output.getvalue().splitlines()

    assert lines[0].startswith("WARNING: Kafka connection lost | error=127.0.0.1:9092")
    summaries = [line for line in lines if "Kafka still unreachable" in line]
    assert len(summaries) == 2  # at 30 s and 60 s
    assert "down_seconds=30.0 suppressed_lines=" in summaries[0]
    assert lines[-1] == "INFO: Kafka connection restored | down_seconds=71.0 suppressed_lines=209"
    assert sum("SESSTMOUT" in line for line in lines) == 1  # not a connection line: kept
    assert len(lines) == 5
    assert not watch.down


def test_other_client_errors_and_lines_pass_while_up(output: io.StringIO) -> None:
    watch = ConnectionWatch(lambda: True)
    watch.install()
    try:
        report_client_error("producer", KafkaError(KafkaError._MSG_TIMED_OUT, "timed out"))
        librdkafka_line("GETPID", "Failed to acquire idempotence PID")
    finally:
        watch.uninstall()
    text = output.getvalue()
    assert "Kafka producer error: timed out (_MSG_TIMED_OUT)" in text
    assert "GETPID" in text
    assert not watch.down


def test_without_a_watch_connection_failures_are_logged_as_before(output: io.StringIO) -> None:
    librdkafka_line("FAIL", REFUSED)
    assert "Connection refused" in output.getvalue()
