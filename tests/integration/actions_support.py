"""Test support for the action executor: a programmable webhook receiver on loopback
(aiohttp.web) and a loguru capture.

Per path, the receiver answers ``fail_status`` for the first ``fail_first`` calls or until
``fail_until`` (monotonic), else ``status``; it can wait ``delay`` seconds, send
``Retry-After`` with failures, and check Standard Webhooks signatures with its own HMAC
computation (401 when wrong). Every request is recorded with headers, body, answer and timing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
from aiohttp import web
from confluent_kafka import Consumer
from loguru import logger

if TYPE_CHECKING:
    from claimx_worker.testing.kafka import KafkaBroker


@attrs.define
class Behaviour:
    """How one path answers."""

    status: int = 200
    fail_first: int = 0
    fail_until: float = 0.0
    fail_status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    signing_key: bytes | None = None


@attrs.frozen
class Received:
    """One request as the receiver saw it (header names lower-cased)."""

    path: str
    method: str
    headers: Mapping[str, str]
    body: bytes
    status: int
    started: float
    ended: float


def valid_signature(key: bytes, headers: Mapping[str, str], body: bytes) -> bool:
    """Standard Webhooks verification, written independently of the executor's code."""
    try:
        msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
        signatures = headers["webhook-signature"].split(" ")
    except KeyError:
        return False
    if abs(time.time() - int(timestamp)) > 300:
        return False
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    expected = base64.b64encode(mac).decode()
    return any(
        version == "v1" and hmac.compare_digest(value, expected)
        for version, _, value in (s.partition(",") for s in signatures)
    )


class WebhookReceiver:
    """Start with ``await receiver.start()``; ``url(path)`` to call it; ``behave(path, ...)``."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.behaviours: dict[str, Behaviour] = {}
        self.calls: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._changed = asyncio.Event()

    async def start(self) -> None:
        """Listen on 127.0.0.1 (a free port)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str) -> str:
        """The URL of ``path`` on this receiver."""
        return f"http://127.0.0.1:{self._port}{path}"

    def behave(self, path: str, **behaviour: object) -> Behaviour:
        """Set how ``path`` answers from now on."""
        self.behaviours[path] = Behaviour(**behaviour)  # type: ignore[arg-type]
        return self.behaviours[path]

    def at(self, path: str, *, ok: bool | None = None) -> list[Received]:
        """Requests to ``path`` (only the 2xx ones with ``ok=True``, only failures with False)."""
        return [
            r
            for r in self.requests
            if r.path == path and (ok is None or (200 <= r.status < 300) == ok)
        ]

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """Wait until ``condition()`` holds as requests start and end (fails after 10 s)."""
        async with asyncio.timeout(10.0):
            while not condition():
                changed = self._changed
                await changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        started = time.monotonic()
        self.calls[path] += 1
        self.in_flight[path] += 1
        self.peak[path] = max(self.peak[path], self.in_flight[path])
        self._notify()
        body = await request.read()
        behaviour = self.behaviours.get(path, Behaviour())
        failing = self.calls[path] <= behaviour.fail_first or started < behaviour.fail_until
        status = behaviour.fail_status if failing else behaviour.status
        headers = {k.lower(): v for k, v in request.headers.items()}
        if behaviour.signing_key is not None and not valid_signature(
            behaviour.signing_key, headers, body
        ):
            status = 401
        try:
            if behaviour.delay:
                await asyncio.sleep(behaviour.delay)
        finally:
            self.in_flight[path] -= 1
        self.requests.append(
            Received(path, request.method, headers, body, status, started, time.monotonic())
        )
        self._notify()
        answer = {}
        if failing and behaviour.retry_after is not None:
            answer["Retry-After"] = behaviour.retry_after
        return web.Response(status=status, headers=answer)


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
