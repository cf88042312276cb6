"""Webhooks through a named connection (:mod:`claimx_worker.http.connections`).

The action's ``url`` is a path (and query) below the connection's ``base_url``; the request
gets the connection's headers, authentication, timeout and retry policy. Each attempt waits
for the connection's rate limit and one of its ``max_in_flight`` slots (no later than the
action's deadline), then goes through the webhook sender like any webhook (endpoint gate,
signing, classification). OAuth2: a 401 drops the token and the request is sent once more with
a new one; a token endpoint that is down fails the attempt as retryable, so the action is
retried and finally dead-lettered with the reason.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from urllib.parse import unquote

import httpx

from claimx_worker.actions.encoding import InvalidActionError
from claimx_worker.actions.endpoint import acquire_before, endpoint_of
from claimx_worker.actions.retry import Attempt, Failure, RetryPolicy
from claimx_worker.actions.settings import ActionSettings
from claimx_worker.actions.webhook import (
    WebhookRequest,
    WebhookSender,
    encode_request,
    endpoint_of_text,
    webhook_target,
)
from claimx_worker.http.backoff import Backoff
from claimx_worker.http.connections import AuthConfig, Connection
from claimx_worker.http.exchange import Exchange
from claimx_worker.http.oauth2 import (
    ClientCredentials,
    TokenError,
    TokenSource,
    basic_authorization,
)
from claimx_worker.http.rate_limit import RateLimiter
from claimx_worker.model import Webhook

UNAUTHORIZED = 401


PATH_CACHE_SIZE = 1024
"""Distinct paths per connection whose checked URL is kept (most recently used first)."""


class ConnectionRuntime:
    """One connection's state: its limits, static auth headers, token cache, retry policy, and
    the checked URLs of the paths used most recently."""

    def __init__(self, connection: Connection, settings: ActionSettings, client: Exchange) -> None:
        config = connection.config
        self.connection = connection
        self.name = connection.name
        self.config = config
        self.base = httpx.URL(config.base_url)
        self.endpoint = endpoint_of(self.base)
        self.limiter = None if config.rate_limit is None else RateLimiter(config.rate_limit)
        self.slots = asyncio.Semaphore(config.max_in_flight)
        self.auth_headers = _static_auth(config.auth)
        self.tokens = _token_source(config.auth, client)
        retry = config.retry
        self.policy = RetryPolicy(
            max_attempts=retry.max_attempts or settings.max_attempts,
            max_age=retry.max_age or settings.max_age,
            backoff=Backoff(
                first=retry.backoff_base or settings.backoff_base,
                cap=retry.backoff_cap or settings.backoff_cap,
            ),
        )
        self._allowed_destinations = settings.allowed_destinations
        self.url = functools.lru_cache(maxsize=PATH_CACHE_SIZE)(self._url)

    def _url(self, path: str) -> str:
        """The URL of ``path`` below the base URL (see :func:`connection_url`), checked as
        any webhook's (:func:`webhook_target`); raises :class:`InvalidActionError` (never
        kept)."""
        url = connection_url(self.name, self.base, path)
        return webhook_target(url, self._allowed_destinations)[0]

    def busy(self) -> Failure:
        """No slot (or rate-limit start) before the action's deadline: not attempted."""
        return Failure(
            error=f"connection {self.name!r} had no free slot until the action's maximum age",
            retryable=False,
            attempted=False,
        )


def connection_url(name: str, base: httpx.URL, path: str) -> httpx.URL:
    """The URL of ``path`` below connection ``name``'s ``base`` URL; raises
    :class:`InvalidActionError` for a path that would leave its scheme, host or port, or climb
    above its base path (a ``.`` or ``..`` segment, percent-encoded or not: the exchange decodes
    ``%2e`` before it resolves dot segments)."""
    if not path.startswith("/") or path.startswith("//"):
        raise InvalidActionError(
            f"a webhook through connection {name!r} takes a path starting with '/'"
        )
    segments = path.partition("?")[0].partition("#")[0].split("/")
    if {".", ".."} & {unquote(segment) for segment in segments}:
        raise InvalidActionError(f"the path climbs above connection {name!r}'s base URL")
    try:
        url = httpx.URL(str(base).rstrip("/") + path)
    except httpx.InvalidURL:
        raise InvalidActionError(f"invalid path for connection {name!r}") from None
    if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
        raise InvalidActionError(f"the path leaves connection {name!r}'s host")
    return url


class ConnectionDelivery:
    """Plans the delivery of webhooks that name a connection."""

    def __init__(
        self,
        connections: Mapping[str, Connection],
        settings: ActionSettings,
        client: Exchange,
        sender: WebhookSender,
    ) -> None:
        self._settings = settings
        self._sender = sender
        self._client = client
        self._runtimes: dict[str, ConnectionRuntime] = {}
        self.use(connections)

    def use(self, connections: Mapping[str, Connection]) -> None:
        """Deliver through ``connections`` from now on (after a reload): an unchanged
        connection keeps its state (token, rate limit, in-flight slots); deliveries already
        planned finish on the connection they started with."""
        runtimes = self._runtimes
        self._runtimes = {
            name: (
                runtimes[name]
                if name in runtimes and runtimes[name].connection == connection
                else ConnectionRuntime(connection, self._settings, self._client)
            )
            for name, connection in connections.items()
        }

    def token_source(self, name: str) -> TokenSource | None:
        """The OAuth2 token cache of connection ``name`` (``None`` without OAuth2)."""
        runtime = self._runtimes.get(name)
        return None if runtime is None else runtime.tokens

    def endpoint(self, action: Webhook) -> str:
        """The endpoint (``scheme://host:port``) ``action`` goes to: its connection's, else
        its URL's (``""`` for an unknown connection)."""
        if action.connection is None:
            return endpoint_of_text(action.url)
        runtime = self._runtimes.get(action.connection)
        return "" if runtime is None else runtime.endpoint

    def plan(self, action: Webhook, key: str) -> tuple[Attempt, RetryPolicy]:
        """The attempt function and retry policy of ``action``; raises
        :class:`InvalidActionError` for an unknown connection or a bad path."""
        runtime = self._runtimes.get(str(action.connection))
        if runtime is None:
            known = ", ".join(sorted(self._runtimes)) or "none"
            raise InvalidActionError(f"unknown connection {action.connection!r} (defined: {known})")
        config = runtime.config
        request = encode_request(
            action,
            key,
            self._settings,
            url=runtime.url(action.url),
            endpoint=runtime.endpoint,
            headers={**config.headers, **action.headers, **runtime.auth_headers},
            timeout=action.timeout if action.timeout > 0 else config.timeout,
        )
        return functools.partial(self._attempt, runtime, request), runtime.policy

    async def _attempt(
        self, runtime: ConnectionRuntime, request: WebhookRequest, deadline: float
    ) -> Failure | None:
        if runtime.limiter is not None and not await runtime.limiter.acquire(deadline):
            return runtime.busy()
        if not await acquire_before(runtime.slots, deadline):
            return runtime.busy()
        try:
            if runtime.tokens is None:
                return await self._sender.attempt(request, deadline)
            failure, token = await self._with_token(runtime, runtime.tokens, request, deadline)
            if failure is None or failure.status != UNAUTHORIZED or token is None:
                return failure
            runtime.tokens.invalidate(token)  # refused: one more time with a new token
            if runtime.limiter is not None and not await runtime.limiter.acquire(deadline):
                return failure
            return (await self._with_token(runtime, runtime.tokens, request, deadline))[0]
        finally:
            runtime.slots.release()

    async def _with_token(
        self,
        runtime: ConnectionRuntime,
        tokens: TokenSource,
        request: WebhookRequest,
        deadline: float,
    ) -> tuple[Failure | None, str | None]:
        token = tokens.cached()
        if token is None:
            try:
                token = await tokens.token(runtime.config.timeout)
            except TokenError as exc:
                return Failure(error=str(exc), retryable=exc.retryable), None
        authorization = {"Authorization": f"Bearer {token}"}
        return await self._sender.attempt(request, deadline, authorization), token


def _static_auth(auth: AuthConfig) -> dict[str, str]:
    match auth.type:
        case "bearer":
            return {"Authorization": f"Bearer {auth.token}"}
        case "api_key":
            return {auth.header or "X-API-Key": str(auth.api_key)}
        case "basic":
            return {"Authorization": basic_authorization(str(auth.username), str(auth.password))}
    return {}


def _token_source(auth: AuthConfig, client: Exchange) -> TokenSource | None:
    if auth.type != "oauth2":
        return None
    credentials = ClientCredentials(
        token_url=str(auth.token_url),
        client_id=str(auth.client_id),
        client_secret=str(auth.client_secret),
        scope=auth.scope,
        client_auth=auth.client_auth or "basic",
        refresh_before=30.0 if auth.refresh_before is None else auth.refresh_before,
    )
    return TokenSource(credentials, client)
