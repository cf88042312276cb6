"""A programmable webhook receiver on loopback (aiohttp.web) for tests, demos and benchmarks.

Per path, the receiver answers ``fail_status`` for the first ``fail_first`` calls or until
``fail_until`` (monotonic), else ``status``; it can wait ``delay`` seconds, send
``Retry-After`` with failures, and check Standard Webhooks signatures with its own HMAC
computation (401 when wrong). Every request is recorded with headers, body, answer and timing,
and appended as a JSON line to the ``record`` file when one is given.

Two ways to run it:

- in the caller's event loop: ``await receiver.start()`` ... ``await receiver.aclose()``
  (or ``async with WebhookReceiver() as receiver``);
- on its own thread and loop: ``receiver.start_in_thread()`` ... ``receiver.stop()`` (or
  ``with WebhookReceiver() as receiver``). The recorded requests may be read from any thread.

Command line: ``python -m claimx_worker.testing.webhooks [--port N] [--record FILE.jsonl]
[--status CODE] [--delay SECONDS]`` prints its URL on the first line, logs every request to
stderr in the worker's format (``log_requests``) and runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, Self

import attrs
from aiohttp import web
from loguru import logger

from claimx_worker.actions.identity import HTTP_IDEMPOTENCY_HEADER
from claimx_worker.testing.background import BackgroundLoop
from claimx_worker.testing.commands import command_parser, serve_until_signal, start_logging


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
    """One request as the receiver saw it (header names lower-cased; ``started``/``ended`` are
    ``time.monotonic()`` values, ``at`` is the wall-clock arrival time)."""

    path: str
    method: str
    headers: Mapping[str, str]
    body: bytes
    status: int
    started: float
    ended: float
    at: float

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the body as text; undecodable bytes survive a round trip)."""
        fields = attrs.asdict(self)
        fields["headers"] = dict(self.headers)
        fields["body"] = self.body.decode("utf-8", "surrogateescape")
        return fields

    @classmethod
    def from_dict(cls, fields: Mapping[str, Any]) -> Received:
        """The inverse of :meth:`to_dict`."""
        return cls(**{**fields, "body": fields["body"].encode("utf-8", "surrogateescape")})


def load_record(path: Path) -> list[Received]:
    """The requests a receiver appended to its ``record`` file (a torn last line is ignored)."""
    received = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            received.append(Received.from_dict(json.loads(line)))
    return received


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
    """A webhook endpoint for tests: ``url(path)`` to call it, ``behave(path, ...)`` to script
    it, ``requests``/``at(path)`` to see what arrived. ``default`` answers unscripted paths."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        record: Path | None = None,
        default: Behaviour | None = None,
        log_requests: bool = False,
    ) -> None:
        self.default = default or Behaviour()
        self.log_requests = log_requests
        """Log an INFO line per request: ``Webhook received | method path status ...``."""
        self._host = host
        self._port = port
        self._record_path = record
        self._record: IO[str] | None = None
        self._requests: list[Received] = []
        self._behaviours: dict[str, Behaviour] = {}
        self._calls: Counter[str] = Counter()
        self._in_flight: Counter[str] = Counter()
        self._peak: Counter[str] = Counter()
        self._changed = threading.Condition(threading.RLock())
        self._runner: web.AppRunner | None = None
        self._background = BackgroundLoop("webhook-receiver", self.start, self.aclose)

    def __repr__(self) -> str:
        return f"WebhookReceiver(base_url={self.base_url!r})"

    # ------------------------------------------------------------------ what arrived

    @property
    def requests(self) -> list[Received]:
        """Every finished request, in order of completion (a snapshot)."""
        with self._changed:
            return list(self._requests)

    @property
    def calls(self) -> Counter[str]:
        """Requests started per path (a snapshot)."""
        with self._changed:
            return Counter(self._calls)

    @property
    def in_flight(self) -> Counter[str]:
        """Requests per path still inside their ``delay`` (a snapshot)."""
        with self._changed:
            return Counter(self._in_flight)

    @property
    def peak(self) -> Counter[str]:
        """The highest number of simultaneous requests seen per path (a snapshot)."""
        with self._changed:
            return Counter(self._peak)

    def at(self, path: str, *, ok: bool | None = None) -> list[Received]:
        """Requests to ``path`` (only the 2xx ones with ``ok=True``, only failures with False)."""
        return [
            r
            for r in self.requests
            if r.path == path and (ok is None or (200 <= r.status < 300) == ok)
        ]

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until ``condition()`` holds as requests start and end; ``TimeoutError`` after
        ``timeout`` seconds. Not from the receiver's own loop: use :meth:`wait_for` there."""
        with self._changed:
            if not self._changed.wait_for(condition, timeout):
                raise TimeoutError(f"condition not met within {timeout} s")

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        """:meth:`wait_until` (10 s) for coroutines, in either mode."""
        await asyncio.to_thread(self.wait_until, condition)

    # ------------------------------------------------------------------ scripting

    @property
    def base_url(self) -> str:
        """``http://<host>:<port>`` (the port is known once started)."""
        return f"http://{self._host}:{self._port}"

    def url(self, path: str) -> str:
        """The URL of ``path`` on this receiver."""
        return f"{self.base_url}{path}"

    def behave(self, path: str, **behaviour: Any) -> Behaviour:
        """Set how ``path`` answers from now on (keywords of :class:`Behaviour`)."""
        with self._changed:
            self._behaviours[path] = Behaviour(**behaviour)
            return self._behaviours[path]

    # ------------------------------------------------------------------ in the caller's loop

    async def start(self) -> None:
        """Listen on the running loop; returns when bound."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        if self._record_path is not None:
            self._record = self._record_path.open("a", encoding="utf-8")

    async def aclose(self) -> None:
        """Stop listening (requests still in their ``delay`` are cancelled)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._record is not None:
            self._record.close()
            self._record = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ on its own thread

    def start_in_thread(self) -> Self:
        """Serve on a daemon thread with its own event loop; returns when bound."""
        self._background.run()
        return self

    def stop(self) -> None:
        """Stop the thread started by :meth:`start_in_thread` and join it."""
        self._background.stop()

    def __enter__(self) -> Self:
        return self.start_in_thread()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ handling

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        started, at = time.monotonic(), time.time()
        with self._changed:
            self._calls[path] += 1
            calls = self._calls[path]
            self._in_flight[path] += 1
            self._peak[path] = max(self._peak[path], self._in_flight[path])
            behaviour = self._behaviours.get(path, self.default)
            self._changed.notify_all()
        body = await request.read()
        failing = calls <= behaviour.fail_first or started < behaviour.fail_until
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
            with self._changed:
                self._in_flight[path] -= 1
                self._changed.notify_all()
        received = Received(
            path, request.method, headers, body, status, started, time.monotonic(), at
        )
        if self._record is not None:
            self._record.write(json.dumps(received.to_dict()) + "\n")
            self._record.flush()
        with self._changed:
            self._requests.append(received)
            self._changed.notify_all()
        if self.log_requests:
            fields: dict[str, object] = {"method": received.method, "path": path, "status": status}
            key = headers.get(HTTP_IDEMPOTENCY_HEADER.lower())
            if key is not None:
                fields["idempotency_key"] = key
            logger.bind(**fields, bytes=len(body)).info("Webhook received")
        answer = {}
        if failing and behaviour.retry_after is not None:
            answer["Retry-After"] = behaviour.retry_after
        return web.Response(status=status, headers=answer)


def argument_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m claimx_worker.testing.webhooks``."""
    parser = command_parser(
        "claimx_worker.testing.webhooks",
        description="Serve a webhook receiver on loopback: it answers every request on any path "
        "with --status\n(after --delay seconds), logs each one to stderr in the worker's format "
        "(LOG_LEVEL,\nLOG_FORMAT) and, with --record, appends it (headers, body, answer, timing) "
        "to a JSON-lines file.\n\nPrints its base URL on the first line of stdout. Runs until "
        "Ctrl-C or SIGTERM.",
        epilog="Example: point the task trigger's webhooks at it:\n\n"
        "  python -m claimx_worker.testing.webhooks --port 8766 --record hooks.jsonl\n"
        "  export TASK_TRIGGER_WEBHOOK_URL=http://127.0.0.1:8766/hooks/task-trigger",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one")
    parser.add_argument("--record", type=Path, help="append every request to this JSON-lines file")
    parser.add_argument("--status", type=int, default=200, help="the HTTP status of every answer")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Serve a receiver until SIGINT or SIGTERM; prints its base URL on the first line."""
    args = argument_parser().parse_args(argv)
    start_logging()
    receiver = WebhookReceiver(
        host=args.host,
        port=args.port,
        record=args.record,
        default=Behaviour(status=args.status, delay=args.delay),
        log_requests=True,
    )

    def ready() -> None:
        print(receiver.base_url, flush=True)
        logger.bind(url=receiver.base_url, status=args.status).info("Webhook receiver listening")

    serve_until_signal(receiver.start, receiver.aclose, ready)
    logger.info("Webhook receiver stopped")
    sys.exit(0)


if __name__ == "__main__":
    main()
