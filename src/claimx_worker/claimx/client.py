"""The ClaimX REST API client: status classification, quick retries, circuit breaker.

Status classes follow the reference: 2xx success; 401 :class:`AuthError`; 408, 5xx, timeouts
and connection errors :class:`TransientError` (honouring ``Retry-After``); any other status
:class:`PermanentError`. A 429 is not an outage: it never counts against the circuit breaker;
it pauses the whole client for its ``Retry-After`` and halves the in-flight limit
(:class:`~claimx_worker.http.pacing.Pacer`), and when the quick retries are all answered 429
the event waits on a retry topic without spending an attempt
(:class:`~claimx_worker.http.pacing.RateLimitedError`). Likewise an open circuit
(:class:`~claimx_worker.http.breaker.CircuitOpenError`) spends no attempt: every retry an event
is given makes a request. The token is sent as ``Authorization: Basic <token>`` and never appears
in a log line, an exception message or a repr.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from attrs import define, frozen
from loguru import logger

from claimx_worker.claimx.metrics import ClaimXMetrics
from claimx_worker.claimx.settings import ApiSettings
from claimx_worker.errors import AuthError, PermanentError, ProcessingError, TransientError
from claimx_worker.http.backoff import Backoff, parse_retry_after
from claimx_worker.http.breaker import CircuitBreaker, CircuitOpenError, CircuitState
from claimx_worker.http.exchange import AiohttpExchange, Exchange, HttpxExchange, Reply
from claimx_worker.http.pacing import Pacer, RateLimitedError
from claimx_worker.http.transport import HttpClientKind, build_transport

MEDIA_ID_FILTER_LIMIT = 50
"""Up to this many media ids are sent as a ``mediaIds`` filter; more fetch all media."""


@define
class ApiCallTally:
    """HTTP requests sent on behalf of one event (retries included; shared loads count once)."""

    count: int = 0


@frozen
class _Request:
    endpoint: str
    method: str
    path: str
    query: str = ""
    body: Mapping[str, Any] | None = None


def _classify(request: _Request, response: Reply) -> Any:
    """The JSON payload of a 2xx response, else the matching :class:`ProcessingError`."""
    status = response.status
    where = f"ClaimX API {request.method} {request.path}"
    if 200 <= status < 300:
        if not response.content:
            return None
        try:
            return json.loads(response.content)
        except ValueError:
            raise TransientError(f"{where}: HTTP {status} with a body that is not JSON") from None
    if status == 401:
        raise AuthError(f"{where}: HTTP 401, the API token was rejected")
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise RateLimitedError(f"{where}: HTTP 429", retry_after=retry_after)
    if status == 408 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise TransientError(f"{where}: HTTP {status}", retry_after=retry_after)
    raise PermanentError(f"{where}: HTTP {status}")


class ClaimXApiClient:
    """Async ClaimX API client over the HTTP client chosen by the settings (aiohttp driven
    directly by default), or over an injected httpx transport (unit tests pass
    ``httpx.AsyncHTTPTransport()``, which pytest-httpx mocks).

    Use as an async context manager, or call :meth:`aclose`. Requests are bounded by
    ``max_concurrency`` (lowered while the API answers 429); transient failures are retried
    ``retries`` times with exponential backoff (or the server's ``Retry-After`` when it is
    short), then raised for the runtime's retry topics.
    """

    def __init__(
        self,
        settings: ApiSettings,
        *,
        metrics: ClaimXMetrics,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._sleep = sleep
        self._backoff = Backoff(first=settings.retry_backoff_seconds, jitter=(0.8, 1.2))
        self._rng = random.Random()
        self._exchange = _exchange(settings, transport)
        self._base_url = settings.base_url.rstrip("/")
        self._headers = {"Authorization": f"Basic {settings.token}", "Accept": "application/json"}
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        if not settings.token:
            logger.bind(base_url=settings.base_url).warning(
                "ClaimX API token is empty: set CLAIMX_API_TOKEN, or requests will be rejected"
            )
        self._pacer = Pacer(
            settings.max_concurrency, clock=clock, on_limit=metrics.concurrency_limit.set
        )
        self._breaker = CircuitBreaker(
            failure_threshold=settings.circuit_failure_threshold,
            reset_seconds=settings.circuit_reset_seconds,
            clock=clock,
            on_change=self._circuit_changed,
        )

    def __repr__(self) -> str:
        return f"ClaimXApiClient(base_url={self._settings.base_url!r})"

    async def __aenter__(self) -> ClaimXApiClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client and its connections."""
        await self._exchange.aclose()

    @property
    def circuit_state(self) -> CircuitState:
        """The circuit breaker's state."""
        return self._breaker.state

    @property
    def settings(self) -> ApiSettings:
        """The settings the client was made with."""
        return self._settings

    async def get_project(self, project_id: str, tally: ApiCallTally) -> Any:
        """``GET /export/project/{id}``, uncached (handlers go through the project cache)."""
        request = _Request("project", "GET", f"/export/project/{_claimx_id(project_id)}")
        return await self._send(request, tally)

    async def get_project_media(
        self, project_id: str, tally: ApiCallTally, *, media_ids: Sequence[str] = ()
    ) -> Any:
        """``GET /export/project/{id}/media``, filtered by ``mediaIds`` when there are few."""
        query = (
            "?" + urlencode({"mediaIds": ",".join(media_ids)})
            if 0 < len(media_ids) <= MEDIA_ID_FILTER_LIMIT
            else ""
        )
        path = f"/export/project/{_claimx_id(project_id)}/media"
        request = _Request("project_media", "GET", path, query)
        return await self._send(request, tally)

    async def get_task_assignment(self, assignment_id: int, tally: ApiCallTally) -> Any:
        """``GET /customTasks/assignment/{id}?full=true``."""
        path = f"/customTasks/assignment/{assignment_id}"
        request = _Request("task_assignment", "GET", path, "?full=true")
        return await self._send(request, tally)

    async def get_video_collaborations(self, project_id: str, tally: ApiCallTally) -> Any:
        """``POST /data`` report ``VIDEO_COLLABORATION`` for the project."""
        body: dict[str, Any] = {
            "reportType": "VIDEO_COLLABORATION",
            "projectId": int(project_id) if project_id.isdigit() else project_id,
            "senderUsername": self._settings.sender_username,
        }
        return await self._send(_Request("video_collaboration", "POST", "/data", body=body), tally)

    async def _send(self, request: _Request, tally: ApiCallTally) -> Any:
        attempt = 0
        while True:
            try:
                return await self._attempt(request, tally)
            except CircuitOpenError:
                raise
            except TransientError as exc:
                delay = self._next_delay(attempt, exc.retry_after)
                if delay is None:
                    raise
                attempt += 1
                logger.bind(
                    endpoint=request.endpoint, attempt=attempt, delay_seconds=round(delay, 3)
                ).debug("Retrying ClaimX API request")
                await self._sleep(delay)

    def _next_delay(self, retried: int, retry_after: float | None) -> float | None:
        """Seconds to wait before the next quick retry (``retried`` done so far), or ``None``
        to give up here."""
        if retried >= self._settings.retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self._settings.max_retry_after_seconds else None
        return self._backoff.delay(retried + 1, self._rng)

    async def _attempt(self, request: _Request, tally: ApiCallTally) -> Any:
        admission = self._breaker.admit()
        if admission.wait > 0:
            self._metrics.api_requests_by(request.endpoint, "circuit_open").inc()
            raise CircuitOpenError(
                "ClaimX API circuit is open: failing fast", retry_after=admission.wait
            )
        outcome = "cancelled"
        try:
            response = await self._paced_exchange(request, tally)
            payload = _classify(request, response)
            outcome = "ok"
            return payload
        except (httpx.TimeoutException, TimeoutError):
            outcome = "transient"
            raise TransientError(
                f"ClaimX API {request.method} {request.path}: no answer within "
                f"{self._settings.timeout_seconds:g} s"
            ) from None
        except (httpx.TransportError, OSError) as exc:
            outcome = "transient"
            raise TransientError(
                f"ClaimX API {request.method} {request.path}: {type(exc).__name__}"
            ) from None
        except ProcessingError as exc:
            outcome = "rate_limited" if isinstance(exc, RateLimitedError) else exc.category.value
            raise
        finally:
            # A 429 is no verdict on the API's health: the pacer slows the client down instead.
            healthy = None if outcome in ("cancelled", "rate_limited") else outcome != "transient"
            self._breaker.record(admission, healthy=healthy)
            self._metrics.api_requests_by(request.endpoint, outcome).inc()

    async def _paced_exchange(self, request: _Request, tally: ApiCallTally) -> Reply:
        """:meth:`_exchange_one` under the pacer: a 429 pauses the whole client for its
        ``Retry-After`` and lowers the in-flight limit."""
        admitted = await self._pacer.acquire()
        tally.count += 1
        started = time.perf_counter()
        try:
            response = await self._exchange_one(request)
        except BaseException:
            self._pacer.cancel()
            raise
        finally:
            self._metrics.api_duration_by(request.endpoint).observe(time.perf_counter() - started)
        if response.status != 429:
            self._pacer.release(admitted)
            return response
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if self._pacer.release(admitted, retry_after=retry_after or 0.0):
            logger.bind(retry_after=retry_after, concurrency_limit=self._pacer.limit).info(
                "ClaimX API asked to slow down: pausing and lowering the concurrency"
            )
        return response

    async def _exchange_one(self, request: _Request) -> Reply:
        """Send one request and read the whole response."""
        body = None if request.body is None else _json_bytes(request.body)
        return await self._exchange.send(
            request.method,
            self._base_url + request.path + request.query,
            headers=self._headers if body is None else self._json_headers,
            content=body,
            timeout_seconds=self._settings.timeout_seconds,
        )

    def _circuit_changed(self, state: CircuitState) -> None:
        self._metrics.circuit_open.set(0 if state is CircuitState.CLOSED else 1)
        log = logger.bind(state=str(state), base_url=self._settings.base_url)
        if state is CircuitState.OPEN:
            log.warning("ClaimX API circuit opened: failing fast")
        else:
            log.info("ClaimX API circuit state changed")


def _exchange(settings: ApiSettings, transport: httpx.AsyncBaseTransport | None) -> Exchange:
    """aiohttp driven directly for the ``aiohttp`` client (no httpx objects per request), else
    ``httpx.AsyncClient`` over ``transport`` or the transport of ``settings.http_client``."""
    if transport is None and settings.http_client is HttpClientKind.AIOHTTP:
        return AiohttpExchange(max_connections=settings.max_concurrency)
    if transport is None:
        transport = build_transport(settings.http_client, max_connections=settings.max_concurrency)
    return HttpxExchange(httpx.AsyncClient(transport=transport, trust_env=False))


def _json_bytes(body: Mapping[str, Any]) -> bytes:
    """``body`` as compact UTF-8 JSON (as httpx's ``json=`` encodes it)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _claimx_id(project_id: str) -> str:
    """``project_id`` as one URL path segment. Event data is untrusted: every character that
    could leave the segment is percent-encoded, and a dot segment (``..`` would leave the
    project's path once normalised) or an empty one is refused."""
    if project_id in ("", ".", ".."):
        raise PermanentError(f"project_id: not a ClaimX id, got {project_id!r}")
    return quote(project_id, safe="")
