"""OAuth2 client-credentials tokens (RFC 6749, section 4.4): fetched from the token endpoint,
cached until ``refresh_before`` seconds before they expire, shared by concurrent callers (one
request in flight), and dropped on demand (after a 401) so the next caller fetches a new one.

Errors never carry the token, the client secret or the response body."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from urllib.parse import urlencode

import attrs
import httpx

from claimx_worker.errors import ClaimXWorkerError
from claimx_worker.http.exchange import Exchange

DEFAULT_LIFETIME = 3600.0
"""Seconds a token is taken to live when the response gives no ``expires_in``."""


def basic_authorization(username: str, password: str) -> str:
    """The ``Authorization`` header value of HTTP Basic authentication."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class TokenError(ClaimXWorkerError):
    """No token: ``retryable`` when the endpoint may answer later (5xx, 429, network)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@attrs.frozen(kw_only=True)
class ClientCredentials:
    """Where and how to ask for a token."""

    token_url: str
    client_id: str
    client_secret: str = attrs.field(repr=False)
    scope: str | None = None
    client_auth: str = "basic"
    """``basic``: HTTP Basic (RFC 6749's default); ``body``: ``client_id``/``client_secret`` in
    the form."""
    refresh_before: float = 30.0


class TokenSource:
    """One connection's token cache."""

    def __init__(self, credentials: ClientCredentials, client: Exchange) -> None:
        self._credentials = credentials
        self._client = client
        self._token: str | None = None
        self._renew_at = 0.0
        self._pending: asyncio.Future[str] | None = None
        self.fetches = 0
        """Token requests made (answered or not)."""

    def __repr__(self) -> str:
        return f"TokenSource({self._credentials.token_url!r}, fetches={self.fetches})"

    def cached(self) -> str | None:
        """The cached token while it is valid (not yet due for renewal), else ``None``."""
        if self._token is not None and time.monotonic() < self._renew_at:
            return self._token
        return None

    async def token(self, request_timeout: float) -> str:
        """A valid token: the cached one, or a new one (one request for all callers waiting)."""
        if (token := self.cached()) is not None:
            return token
        if self._pending is None:
            self._pending = asyncio.get_running_loop().create_future()
            pending = self._pending
            try:
                token = await self._fetch(request_timeout)
            except asyncio.CancelledError:
                pending.cancel()
                raise
            except Exception as exc:
                pending.set_exception(exc)
                pending.exception()  # retrieved: waiting callers get it, nobody else must
                raise
            finally:
                self._pending = None
            pending.set_result(token)
            return token
        return await asyncio.shield(self._pending)

    def invalidate(self, token: str) -> None:
        """Drop ``token`` (the receiver refused it); a newer token is kept."""
        if self._token == token:
            self._token = None

    async def _fetch(self, request_timeout: float) -> str:
        credentials = self._credentials
        form = {"grant_type": "client_credentials"}
        if credentials.scope:
            form["scope"] = credentials.scope
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        if credentials.client_auth == "body":
            form |= {"client_id": credentials.client_id, "client_secret": credentials.client_secret}
        else:
            headers["Authorization"] = basic_authorization(
                credentials.client_id, credentials.client_secret
            )
        where = f"OAuth2 token endpoint {credentials.token_url}"
        self.fetches += 1
        started = time.monotonic()
        try:
            response = await self._client.send(
                "POST",
                credentials.token_url,
                headers=headers,
                content=urlencode(form).encode(),
                timeout_seconds=request_timeout,
            )
        except (httpx.TransportError, OSError) as exc:
            raise TokenError(f"{where} unreachable: {type(exc).__name__}", retryable=True) from None
        status = response.status
        if status != 200:
            retryable = status == 429 or status >= 500
            refused = "" if retryable else " (client credentials refused)"
            raise TokenError(f"{where} answered HTTP {status}{refused}", retryable=retryable)
        try:
            body = json.loads(response.content)
            token = body["access_token"]
            lifetime = float(body.get("expires_in", DEFAULT_LIFETIME))
        except (ValueError, KeyError, TypeError):
            raise TokenError(f"{where} gave no access_token", retryable=False) from None
        if not isinstance(token, str) or not token:
            raise TokenError(f"{where} gave no access_token", retryable=False)
        self._token = token
        self._renew_at = started + max(0.0, lifetime - credentials.refresh_before)
        return token
