"""Test support for the action executor: a loguru capture and a topic reader (the webhook
receiver lives in :mod:`claimx_worker.testing.webhooks`)."""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer
from loguru import logger

if TYPE_CHECKING:
    from claimx_worker.testing.kafka import KafkaBroker


class LogCapture:
    """Every loguru record, unredacted (message, extras, exception) as a JSON line: what any
    sink would be handed. Use as a context manager."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._handler: int | None = None

    def __enter__(self) -> LogCapture:
        self._handler = logger.add(
            self.lines.append, level="TRACE", serialize=True, diagnose=False, catch=False
        )
        return self

    def __exit__(self, *_: object) -> None:
        if self._handler is not None:
            logger.remove(self._handler)

    def records(self) -> list[dict[str, Any]]:
        """The captured records (loguru's serialised ``record`` part)."""
        return [json.loads(line)["record"] for line in self.lines]


def read_topic(
    broker: KafkaBroker, topic: str, *, expected: int, settle: float = 0.5, timeout: float = 20.0
) -> list[Any]:
    """Every message of ``topic`` from the start: at least ``expected``, then whatever else
    arrives within ``settle`` seconds (blocking: call through ``asyncio.to_thread``)."""
    consumer = Consumer(
        broker.client_config(
            {
                "group.id": f"test-reader-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
    )
    messages: list[Any] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        quiet_until: float | None = None
        while time.monotonic() < deadline:
            if len(messages) >= expected:
                quiet_until = quiet_until or time.monotonic() + settle
                if time.monotonic() >= quiet_until:
                    break
            for message in consumer.consume(num_messages=500, timeout=0.2):
                assert message.error() is None, message.error()
                messages.append(message)
    finally:
        consumer.close()
    return messages
