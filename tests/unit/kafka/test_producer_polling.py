"""The delivery producer's reports and errors are served by the event loop, without a thread of
its own (no broker needed: the producer points at a closed port)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from loguru import logger

from claimx_worker.kafka import DeliveryError, DeliveryProducer
from claimx_worker.kafka.clients import LIBRDKAFKA_LOGGER
from claimx_worker.kafka.producer import BUSY_POLL_SECONDS, IDLE_POLL_SECONDS, next_poll_delay


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Captured(logging.Handler):
    """Notes whether a producer error callback was logged."""

    def __init__(self) -> None:
        super().__init__()
        self.producer_error = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Kafka producer error"):
            self.producer_error.set()


@pytest.fixture
def client_errors() -> Iterator[Captured]:
    handler = Captured()
    LIBRDKAFKA_LOGGER.addHandler(handler)
    try:
        yield handler
    finally:
        LIBRDKAFKA_LOGGER.removeHandler(handler)


@pytest.fixture
async def unreachable(closed_port: int) -> AsyncIterator[DeliveryProducer]:
    """A started producer whose messages fail after 0.3 s (nothing listens on its port)."""
    producer = DeliveryProducer(
        {
            "bootstrap.servers": f"127.0.0.1:{closed_port}",
            "message.timeout.ms": 300,
            "logger": LIBRDKAFKA_LOGGER,
        }
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.close()


async def test_errors_are_served_while_no_message_waits(
    closed_port: int, client_errors: Captured
) -> None:
    threads = threading.active_count()
    producer = DeliveryProducer(
        {"bootstrap.servers": f"127.0.0.1:{closed_port}", "logger": LIBRDKAFKA_LOGGER}
    )
    await producer.start()
    try:
        assert threading.active_count() == threads
        await asyncio.wait_for(client_errors.producer_error.wait(), 10)
    finally:
        await producer.close()


async def test_an_undeliverable_message_is_reported_on_the_loop_thread(
    unreachable: DeliveryProducer,
) -> None:
    reported: asyncio.Future[tuple[int, DeliveryError | None]] = (
        asyncio.get_running_loop().create_future()
    )
    unreachable.produce(
        "t", b"v", on_delivery=lambda error: reported.set_result((threading.get_ident(), error))
    )
    thread, error = await asyncio.wait_for(reported, 10)
    assert len(unreachable) == 0
    assert thread == threading.get_ident()
    assert isinstance(error, DeliveryError)
    assert error.topic == "t"


def test_polls_back_off_while_messages_wait_without_a_report() -> None:
    delays = [BUSY_POLL_SECONDS]
    for _ in range(10):
        delays.append(next_poll_delay(delays[-1], unacknowledged=True, served=False))
    assert delays[:4] == [BUSY_POLL_SECONDS, 2 * BUSY_POLL_SECONDS, 4 * BUSY_POLL_SECONDS, 0.008]
    assert delays[-1] == IDLE_POLL_SECONDS
    assert delays == sorted(delays)


def test_a_report_brings_the_next_poll_close_and_nothing_waiting_lets_it_idle() -> None:
    assert next_poll_delay(IDLE_POLL_SECONDS, unacknowledged=True, served=True) == BUSY_POLL_SECONDS
    for served in (True, False):
        assert (
            next_poll_delay(BUSY_POLL_SECONDS, unacknowledged=False, served=served)
            == IDLE_POLL_SECONDS
        )


async def test_a_failing_callback_leaves_the_other_reports_delivered(
    unreachable: DeliveryProducer,
) -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, level="ERROR", format="{message}")
    reported = asyncio.get_running_loop().create_future()

    def broken(_: DeliveryError | None) -> None:
        raise RuntimeError("a bug in a delivery callback")

    try:
        unreachable.produce("t", b"first", on_delivery=broken)
        unreachable.produce("t", b"second", on_delivery=reported.set_result)
        assert isinstance(await asyncio.wait_for(reported, 10), DeliveryError)
    finally:
        logger.remove(sink)
    assert any("Delivery callback failed" in line for line in lines)
