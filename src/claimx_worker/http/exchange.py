"""One request out, the whole response back: how the per-event paths (the ClaimX API client and
webhook delivery) send HTTP.

:class:`AiohttpExchange` drives aiohttp directly: httpx's Request and Response objects cost more
CPU per request than the connection itself (figures in benchmarks/bench_enrichment.py).
:class:`HttpxExchange` sends through an ``httpx.AsyncClient``, for the transports httpx serves
(pytest-httpx's mocks, ``MockTransport``, httpx's own). Both raise httpx's error classes, so
callers classify failures one way, and follow no redirects.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from typing import Protocol

import aiohttp
import httpx
import yarl
from attrs import frozen

from claimx_worker.http.destinations import GuardedResolver
from claimx_worker.http.transport import as_httpx_error

URL_CACHE_SIZE = 4096
"""Parsed request URLs kept per exchange: the API's project, media and report URLs recur across
the events of a project."""
KEEPALIVE_SECONDS = 5.0
"""How long an idle pooled connection is kept (httpx's default)."""


@frozen
class Reply:
    """A response read whole; ``headers`` look up names case-insensitively."""

    status: int
    reason: str
    headers: Mapping[str, str]
    content: bytes


class Exchange(Protocol):
    """Sends one request and reads its whole response."""

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout_seconds: float,
    ) -> Reply:
        """Send ``method url``; ``timeout_seconds`` bounds the connection, each read and the
        wait for a pooled connection. Raises ``httpx.TransportError`` subclasses."""
        ...

    async def aclose(self) -> None:
        """Close the pooled connections."""
        ...


class AiohttpExchange:
    """An aiohttp session used directly: pooled connections (``max_connections``, 0 for no
    limit), TLS verified against httpx's default certificates, no proxy from the environment,
    and names resolved under the destination policy when ``allowed_destinations`` is given."""

    def __init__(
        self, *, max_connections: int, allowed_destinations: Collection[str] | None = None
    ) -> None:
        self._max_connections = max_connections
        self._allowed = allowed_destinations
        self._session: aiohttp.ClientSession | None = None
        self._ssl = httpx.create_ssl_context()  # loading the CA bundle costs ~0.1 s of CPU
        self._url = functools.lru_cache(maxsize=URL_CACHE_SIZE)(yarl.URL)
        self._timeouts = functools.lru_cache(maxsize=64)(_client_timeout)

    async def __aenter__(self) -> AiohttpExchange:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def _open(self) -> aiohttp.ClientSession:
        # made on first use: an aiohttp session belongs to the running loop
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            keepalive_timeout=KEEPALIVE_SECONDS,
            ssl=self._ssl,
            resolver=None if self._allowed is None else GuardedResolver(self._allowed),
        )
        self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout_seconds: float,
    ) -> Reply:
        """See :meth:`Exchange.send`."""
        session = self._session or self._open()
        try:
            async with session.request(
                method,
                self._url(url),
                headers=headers,
                data=content,
                allow_redirects=False,
                timeout=self._timeouts(timeout_seconds),
            ) as response:
                body = await response.read()
        except Exception as exc:
            error = as_httpx_error(exc)
            if error is None:
                raise
            raise error from exc
        return Reply(response.status, response.reason or "", response.headers, body)

    async def aclose(self) -> None:
        """See :meth:`Exchange.aclose`."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _client_timeout(seconds: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(sock_connect=seconds, sock_read=seconds, connect=seconds)


class HttpxExchange:
    """Requests through an ``httpx.AsyncClient`` (closed with the exchange)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def __aenter__(self) -> HttpxExchange:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout_seconds: float,
    ) -> Reply:
        """See :meth:`Exchange.send`."""
        response = await self._client.request(
            method,
            url,
            headers=headers,
            content=content,
            timeout=timeout_seconds,
            follow_redirects=False,
        )
        return Reply(
            response.status_code, response.reason_phrase, response.headers, response.content
        )

    async def aclose(self) -> None:
        """See :meth:`Exchange.aclose`."""
        await self._client.aclose()


def webhook_exchange(*, allowed_destinations: Collection[str]) -> AiohttpExchange:
    """The exchange webhooks (and their replay) go through: aiohttp directly, names resolved
    under the destination policy, and no global connection cap (the executor caps each endpoint
    itself; aiohttp's default of 100 let one slow endpoint hold every connection)."""
    return AiohttpExchange(max_connections=0, allowed_destinations=allowed_destinations)
