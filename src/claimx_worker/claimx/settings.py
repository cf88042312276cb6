"""Settings of the ClaimX API client (the ``claimx_api:`` section of the worker config)."""

from __future__ import annotations

from typing import Any

import attrs
import httpx
from attrs import field, frozen, validators

from claimx_worker.config.problems import ConfigValueError
from claimx_worker.http.transport import HttpClientKind

DEFAULT_BASE_URL = "https://www.claimxperience.com/service/cxedirest"


def _check_base_url(_: object, attribute: attrs.Attribute[Any], url: str) -> None:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = httpx.URL()
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigValueError(
            f"not an http(s) URL: {url!r} (write e.g. {DEFAULT_BASE_URL})", key=attribute.name
        )


@frozen(kw_only=True)
class ApiSettings:
    """Where the ClaimX API is and how hard to push it.

    ``token`` is the HTTP Basic token (base64 of ``user:password``); it is kept out of ``repr``
    and never logged. ``CLAIMX_API_TOKEN`` in the environment sets it.
    """

    base_url: str = field(default=DEFAULT_BASE_URL, validator=_check_base_url)
    """The ClaimX REST API, an ``http(s)://`` URL."""
    token: str = field(default="", repr=False)
    """HTTP Basic token of the API (base64 of ``user:password``). A secret: never logged."""
    timeout_seconds: float = field(default=30.0, validator=validators.gt(0))
    """Timeout of one API request."""
    max_concurrency: int = field(default=20, validator=validators.gt(0))
    """API requests in flight at once."""
    retries: int = field(default=2, validator=validators.ge(0))
    """Quick in-process retries of a transient failure before the runtime's retry topics."""
    retry_backoff_seconds: float = field(default=0.2, validator=validators.ge(0))
    """First backoff; doubles per retry. A ``Retry-After`` longer than ``max_retry_after_seconds``
    ends the quick retries and is handed to the runtime instead."""
    max_retry_after_seconds: float = field(default=5.0, validator=validators.ge(0))
    """The longest ``Retry-After`` waited for in process; a longer one goes to a retry topic."""
    circuit_failure_threshold: int = field(default=5, validator=validators.gt(0))
    """Consecutive transient failures that open the circuit."""
    circuit_reset_seconds: float = field(default=30.0, validator=validators.gt(0))
    """How long an open circuit fails fast before one trial request is let through."""
    project_cache_ttl_seconds: float = field(default=5.0, validator=validators.ge(0))
    """How long a fetched project export is reused by other events of the same project."""
    sender_username: str = ""
    """``senderUsername`` of the ``VIDEO_COLLABORATION`` report request."""
    http_client: HttpClientKind = HttpClientKind.AIOHTTP
    """How API requests are sent: ``aiohttp`` (the fastest), ``native`` or ``threads``.
    ``native`` is httpx's own transport, ``threads`` the sync client on a thread pool."""
