"""The httpx transports behind the ClaimX API client and the webhook client, one per
:class:`HttpClientKind`, with aiohttp errors mapped to httpx errors."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import aiohttp
import httpx
from aiohttp import ClientSession, ClientTimeout
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AIOHTTP_EXC_MAP


class HttpClientKind(enum.StrEnum):
    """How HTTP requests are sent.

    ``aiohttp``: aiohttp driven directly by the ClaimX API client (``http.exchange``), the
    fastest on our machines; :func:`build_transport` gives httpx users the aiohttp transport
    (``httpx-aiohttp``) instead. ``native``: ``httpx.AsyncClient`` with its own transport;
    ``threads``: the sync ``httpx.Client`` on a thread pool.
    """

    AIOHTTP = "aiohttp"
    NATIVE = "native"
    THREADS = "threads"


class BufferedAiohttpTransport(AiohttpTransport):
    """httpx-aiohttp's transport, reading each response body whole before returning.

    The API client reads every body whole anyway; streaming it through httpx's async byte-stream
    layers cost about 4% of an enriched event's instructions. Requests go out as httpx-aiohttp
    sends them, minus its proxy options (none are configured); aiohttp errors map to httpx
    exceptions through :data:`HTTPX_ERRORS`, the most specific aiohttp class deciding
    (httpx-aiohttp's own mapping reports a refused connection as ``ConnectTimeout``).
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read the whole response."""
        if not isinstance(self.client, ClientSession):
            self.client = self.get_client()
        timeout = request.extensions.get("timeout", {})
        with httpx_errors():
            async with self.client.request(
                request.method,
                str(request.url),
                headers=request.headers,
                data=request.content or None,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                    connect=timeout.get("pool"),
                ),
            ) as response:
                content = await response.read()
        extensions = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            content=content,
            request=request,
            extensions=extensions,
        )


HTTPX_ERRORS: dict[type[Exception], type[httpx.TransportError]] = {
    **AIOHTTP_EXC_MAP,
    aiohttp.ClientConnectionError: httpx.NetworkError,  # httpx-aiohttp: ConnectTimeout
    aiohttp.ServerDisconnectedError: httpx.RemoteProtocolError,  # what httpx itself raises
    aiohttp.ConnectionTimeoutError: httpx.ConnectTimeout,
}
"""aiohttp error class -> httpx error class: httpx-aiohttp's table, where a connection error that
is no timeout (a reset, a disconnect) is no longer a ``ConnectTimeout``."""


def as_httpx_error(exc: Exception) -> httpx.TransportError | None:
    """The httpx error of the most specific aiohttp class ``exc`` matches, or ``None``."""
    matches = [source for source in HTTPX_ERRORS if isinstance(exc, source)]
    if not matches:
        return None
    source = max(matches, key=lambda match: len(match.__mro__))
    return HTTPX_ERRORS[source](str(exc))


@contextmanager
def httpx_errors() -> Iterator[None]:
    """Raise aiohttp errors as the httpx error of the most specific aiohttp class they match."""
    try:
        yield
    except Exception as exc:
        error = as_httpx_error(exc)
        if error is None:
            raise
        raise error from exc


class ThreadPoolTransport(httpx.AsyncBaseTransport):
    """Runs httpx's sync transport on a thread pool, behind the ``httpx.AsyncClient`` API."""

    def __init__(self, transport: httpx.HTTPTransport, *, max_workers: int) -> None:
        self._transport = transport
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="claimx-http")

    def _send(self, request: httpx.Request) -> httpx.Response:
        response = self._transport.handle_request(request)
        try:
            content = response.read()
        finally:
            response.close()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=content,
            extensions=response.extensions,
            request=request,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a pool thread; the body is read there too."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._send, request)

    async def aclose(self) -> None:
        """Close the connections and stop the threads."""
        self._transport.close()
        self._executor.shutdown(wait=False, cancel_futures=True)


def build_transport(kind: HttpClientKind, *, max_connections: int) -> httpx.AsyncBaseTransport:
    """A transport of ``kind`` with a pool of ``max_connections`` connections."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    match kind:
        case HttpClientKind.AIOHTTP:
            return BufferedAiohttpTransport(limits=limits)
        case HttpClientKind.NATIVE:
            return httpx.AsyncHTTPTransport(limits=limits)
        case HttpClientKind.THREADS:
            return ThreadPoolTransport(
                httpx.HTTPTransport(limits=limits), max_workers=max_connections
            )
