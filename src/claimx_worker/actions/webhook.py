"""Webhook delivery: one attempt at a time through the endpoint's gate, classified for retry.

Requests carry ``Idempotency-Key`` and the Standard Webhooks ``webhook-id`` (both the action's
idempotency key) and ``webhook-timestamp``; with a signing secret also ``webhook-signature``,
recomputed per attempt. Connect errors, timeouts, 429 and 5xx are retryable (``Retry-After``
honoured); any other non-2xx answer is permanent.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Collection, Mapping
from types import MappingProxyType

import attrs
import httpx

from claimx_worker.actions.encoding import InvalidActionError, payload_bytes
from claimx_worker.actions.endpoint import EndpointGate, StateHook, endpoint_of
from claimx_worker.actions.identity import HTTP_IDEMPOTENCY_HEADER
from claimx_worker.actions.retry import Failure
from claimx_worker.actions.settings import ActionSettings
from claimx_worker.actions.signing import (
    SigningKeyError,
    SigningSource,
    signature_headers,
    signing_key,
    signing_secret_for,
)
from claimx_worker.http.backoff import parse_retry_after
from claimx_worker.http.breaker import CircuitState
from claimx_worker.http.destinations import destination_problem
from claimx_worker.http.exchange import Exchange, Reply
from claimx_worker.model import Webhook

_OWN_HEADERS = frozenset(
    {HTTP_IDEMPOTENCY_HEADER.lower(), "webhook-id", "webhook-timestamp", "webhook-signature"}
)
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@attrs.frozen(kw_only=True)
class WebhookRequest:
    """A webhook ready to send (built once, sent once per attempt)."""

    endpoint: str
    method: str
    url: str = attrs.field(repr=False)
    headers: Mapping[str, str] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)
    timeout: float
    key: str
    signing_key: bytes | None = attrs.field(repr=False)
    signing: SigningSource

    def headers_at(self, timestamp: int, extra: Mapping[str, str] = _NO_HEADERS) -> dict[str, str]:
        """The request headers for an attempt at ``timestamp`` (Unix seconds), with ``extra``
        headers of this attempt (they replace the request's own of the same name)."""
        if self.signing_key is not None:
            return {
                **self.headers,
                **extra,
                **signature_headers(self.signing_key, self.key, timestamp, self.body),
            }
        return {
            **self.headers,
            **extra,
            "webhook-id": self.key,
            "webhook-timestamp": str(timestamp),
        }


def build_request(action: Webhook, key: str, settings: ActionSettings) -> WebhookRequest:
    """Validate and encode ``action``; raises :class:`InvalidActionError` (never retried).

    The URL must be http(s), carry no credentials and pass the destination policy (see
    :func:`checked_url`); the rest is :func:`encode_request`'s."""
    target, endpoint = checked_url(action.url, settings.allowed_destinations)
    return encode_request(
        action,
        key,
        settings,
        url=target,
        endpoint=endpoint,
        headers=action.headers,
        timeout=action.timeout if action.timeout > 0 else settings.webhook_timeout,
    )


URL_CACHE_SIZE = 1024
"""Distinct plain webhook URLs whose checked URL is kept (most recently used first)."""


@functools.lru_cache(maxsize=URL_CACHE_SIZE)
def checked_url(text: str, allowed_destinations: tuple[str, ...]) -> tuple[str, str]:
    """The URL text and the endpoint of a plain webhook to ``text`` under the destination
    policy ``allowed_destinations`` (see :func:`webhook_target`); raises
    :class:`InvalidActionError` (never kept).

    Only the text is checked here: the names a URL resolves to are checked again at each
    connection (:class:`~claimx_worker.http.destinations.GuardedResolver`)."""
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        raise InvalidActionError("webhook URL is not valid") from None
    return webhook_target(url, allowed_destinations)


def webhook_target(url: httpx.URL, allowed_destinations: Collection[str]) -> tuple[str, str]:
    """The URL text and the endpoint of a webhook to ``url``; raises
    :class:`InvalidActionError` unless it is http(s) with a host, carries no credentials and
    passes the destination policy ``allowed_destinations``."""
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidActionError(f"webhook URL must be http(s) with a host, got {url.scheme!r}")
    if url.userinfo:
        raise InvalidActionError(
            "webhook URL must not carry credentials (user:password@host): send them in an "
            "Authorization header"
        )
    if (problem := destination_problem(url.host, allowed_destinations)) is not None:
        raise InvalidActionError(f"webhook destination refused: {problem}")
    return str(url), endpoint_of(url)


def encode_request(
    action: Webhook,
    key: str,
    settings: ActionSettings,
    *,
    url: str,
    endpoint: str,
    headers: Mapping[str, str],
    timeout: float,
) -> WebhookRequest:
    """The request of ``action`` to ``url`` (checked by :func:`webhook_target`) with
    ``headers``; raises :class:`InvalidActionError` (never retried).

    ``headers`` are kept, except those the executor sets itself (``Idempotency-Key`` and the
    ``webhook-*`` headers); ``Content-Type: application/json`` is added to a body unless they
    set a content type."""
    body = b"" if action.body is None else payload_bytes(action.body)
    sent = {k: v for k, v in headers.items() if k.lower() not in _OWN_HEADERS}
    if not all(name.isascii() and value.isascii() for name, value in sent.items()):
        raise InvalidActionError("webhook header names and values must be ASCII text")
    if body and not any(k.lower() == "content-type" for k in sent):
        sent["Content-Type"] = "application/json"
    sent[HTTP_IDEMPOTENCY_HEADER] = key
    secret, source = signing_secret_for(
        action.signing_secret, endpoint, settings.endpoint_signing_secrets, settings.signing_secret
    )
    try:
        key_bytes = None if secret is None else signing_key(secret)
    except SigningKeyError as exc:
        raise InvalidActionError(str(exc)) from None
    return WebhookRequest(
        endpoint=endpoint,
        method=action.method.upper(),
        url=url,
        headers=sent,
        body=body,
        timeout=timeout,
        key=key,
        signing_key=key_bytes,
        signing=source,
    )


def classify(response: Reply) -> Failure | None:
    """``None`` for 2xx; a retryable failure for 429 and 5xx; else a permanent one."""
    status = response.status
    if 200 <= status < 300:
        return None
    error = f"HTTP {status} {response.reason}".rstrip()
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return Failure(error=error, retryable=True, status=status, retry_after=retry_after)
    return Failure(error=error, retryable=False, status=status)


class WebhookSender:
    """Sends webhook attempts through one :class:`EndpointGate` per endpoint."""

    def __init__(
        self,
        client: Exchange,
        settings: ActionSettings,
        *,
        on_state: StateHook,
        on_attempt: Callable[[], None],
    ) -> None:
        self._client = client
        self._settings = settings
        self._on_state = on_state
        self._on_attempt = on_attempt
        self._gates: dict[str, EndpointGate] = {}

    def state(self, endpoint: str) -> CircuitState:
        """The circuit state of an endpoint (closed when never called)."""
        gate = self._gates.get(endpoint)
        return CircuitState.CLOSED if gate is None else gate.state

    async def attempt(
        self, request: WebhookRequest, deadline: float, headers: Mapping[str, str] = _NO_HEADERS
    ) -> Failure | None:
        """Wait for the endpoint's gate (no later than ``deadline``), then send once (with
        ``headers`` added to the request's)."""
        async with self._gate(request.endpoint).slot(deadline) as verdict:
            if verdict is None:
                return Failure(
                    error=f"endpoint {request.endpoint} unavailable (circuit open or busy) "
                    "until the deadline",
                    retryable=False,
                    attempted=False,
                )
            self._on_attempt()
            try:
                async with asyncio.timeout(request.timeout):
                    response = await self._client.send(
                        request.method,
                        request.url,
                        content=request.body,
                        headers=request.headers_at(int(time.time()), headers),
                        timeout_seconds=request.timeout,
                    )
            except TimeoutError:
                verdict.healthy = False
                return Failure(error=f"timed out after {request.timeout:g}s", retryable=True)
            except (httpx.TransportError, OSError) as exc:  # timeouts of the transport too
                verdict.healthy = False
                return Failure(error=f"{type(exc).__name__}: {exc}".rstrip(": "), retryable=True)
            verdict.healthy = response.status < 500
            return classify(response)

    def _gate(self, endpoint: str) -> EndpointGate:
        gate = self._gates.get(endpoint)
        if gate is None:
            gate = self._gates[endpoint] = EndpointGate(
                endpoint,
                max_in_flight=self._settings.endpoint_max_in_flight,
                failure_threshold=self._settings.breaker_threshold,
                reset_seconds=self._settings.breaker_reset,
                on_state=self._on_state,
            )
        return gate


def endpoint_of_text(url: str) -> str:
    """The endpoint (``scheme://host:port``) of a URL string; ``""`` when it is not an
    absolute URL (a path, for one)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return ""
    return endpoint_of(parsed) if parsed.scheme and parsed.host else ""


def webhook_signing(action: Webhook, settings: ActionSettings) -> SigningSource:
    """Which secret ``action`` is signed with under ``settings``."""
    return signing_secret_for(
        action.signing_secret,
        endpoint_of_text(action.url),
        settings.endpoint_signing_secrets,
        settings.signing_secret,
    )[1]
