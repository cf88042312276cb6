"""One small HTTP server for ``/metrics``, ``/healthz``, ``/readyz`` and ``/status``, on a daemon
thread."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from loguru import logger
from prometheus_client import CollectorRegistry, make_wsgi_app

from claimx_worker.observability.health import HealthState
from claimx_worker.observability.status import StatusBoard

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# wsgiref adds Content-Length to the header list it is given: hand it a fresh list every time.
_JSON_HEADERS = (("Content-Type", "application/json"), ("Cache-Control", "no-store"))


class ObservabilityServer:
    """Handle of a running server: its ``port`` and ``url``; :meth:`close` stops it."""

    __slots__ = ("_httpd", "_thread")

    def __init__(self, httpd: WSGIServer, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread

    @property
    def port(self) -> int:
        """The bound port (the chosen one when started with port 0)."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:9100``."""
        host = self._httpd.server_address[0]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{self.port}"

    def close(self) -> None:
        """Stop serving, release the port and join the thread (idempotent)."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def __enter__(self) -> ObservabilityServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


DEFAULT_HOST = "0.0.0.0"
"""Every interface: Prometheus and the orchestrator's probes reach the worker from outside its
host or pod. The server is read-only and holds no secret; bind ``127.0.0.1`` to keep it local."""
MAX_CONNECTIONS = 32
CONNECTION_TIMEOUT_SECONDS = 10.0


def start_observability_server(
    port: int,
    registry: CollectorRegistry,
    health: HealthState,
    *,
    host: str = DEFAULT_HOST,
    max_connections: int = MAX_CONNECTIONS,
    connection_timeout: float = CONNECTION_TIMEOUT_SECONDS,
    status: StatusBoard | None = None,
) -> ObservabilityServer:
    """Serve ``registry`` on ``/metrics``, ``health`` on ``/healthz`` and ``/readyz``, and
    ``status`` (when given) on ``/status``.

    ``port`` 0 picks a free port (see :attr:`ObservabilityServer.port`). Requests are handled
    on daemon threads, so a slow scrape never touches the worker's event loop; at most
    ``max_connections`` at once (further ones are closed at once), each dropped after
    ``connection_timeout`` seconds without data.
    """
    app = make_app(registry, health, status)
    handler = type("_Handler", (_QuietHandler,), {"timeout": connection_timeout})
    httpd = make_server(host, port, app, _ThreadingWSGIServer, handler)
    httpd.slots = threading.BoundedSemaphore(max_connections)
    thread = threading.Thread(
        target=httpd.serve_forever, args=(0.1,), name="claimx-observability", daemon=True
    )
    thread.start()
    return ObservabilityServer(httpd, thread)


def make_app(
    registry: CollectorRegistry, health: HealthState, status: StatusBoard | None = None
) -> WSGIApplication:
    """The WSGI application behind :func:`start_observability_server`."""
    metrics_app = make_wsgi_app(registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            return route(environ, start_response)
        except Exception:
            logger.opt(exception=True).bind(path=environ.get("PATH_INFO", "")).error(
                "Observability request failed"
            )
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"internal error\n"]

    def route(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body: Iterable[bytes] = metrics_app(environ, start_response)
            return body
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
            return [b""]
        if path == "/healthz":
            liveness = health.liveness()
            return _json_response(
                start_response,
                ok=liveness.alive,
                body={
                    "status": "ok" if liveness.alive else "stale",
                    "heartbeat_age_seconds": round(liveness.age, 3),
                    "stale_after_seconds": health.stale_after,
                },
            )
        if path == "/readyz":
            readiness = health.readiness()
            return _json_response(
                start_response,
                ok=readiness.ready,
                body={
                    "status": "ready" if readiness.ready else "not ready",
                    "failing": readiness.failing,
                    "checks": readiness.checks,
                },
            )
        if path == "/status" and status is not None:
            return _json_response(start_response, ok=True, body=status.snapshot())
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics, /healthz, /readyz or /status\n"]

    return app


def _json_response(
    start_response: StartResponse, *, ok: bool, body: dict[str, object]
) -> list[bytes]:
    start_response("200 OK" if ok else "503 Service Unavailable", list(_JSON_HEADERS))
    return [json.dumps(body, default=str).encode() + b"\n"]


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64  # the default of 5 drops connections when many probes arrive at once
    slots: threading.BoundedSemaphore

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread for the connection while a slot is free; else close it at once."""
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: object, client_address: object) -> None:
        """Connection-level errors (a probe hanging up early) go to the debug log, not stderr."""
        logger.opt(exception=True).debug("Observability connection failed")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Probes and scrapes are not worth a log line each."""
