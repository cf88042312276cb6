"""Settings of the ClaimX API client (the ``claimx_api:`` section of the worker config)."""

from __future__ import annotations

from attrs import field, frozen, validators

from claimx_worker.http.transport import HttpClientKind


@frozen(kw_only=True)
class ApiSettings:
    """Where the ClaimX API is and how hard to push it.

    ``token`` is the HTTP Basic token (base64 of ``user:password``); it is kept out of ``repr``
    and never logged. The worker config defaults it to ``${CLAIMX_API_TOKEN}``.
    """

    base_url: str = "https://www.claimxperience.com/service/cxedirest"
    token: str = field(default="", repr=False)
    timeout_seconds: float = field(default=30.0, validator=validators.gt(0))
    max_concurrency: int = field(default=20, validator=validators.gt(0))
    retries: int = field(default=2, validator=validators.ge(0))
    """Quick in-process retries of a transient failure before the runtime's retry topics."""
    retry_backoff_seconds: float = field(default=0.2, validator=validators.ge(0))
    """First backoff; doubles per retry. A ``Retry-After`` longer than ``max_retry_after_seconds``
    ends the quick retries and is handed to the runtime instead."""
    max_retry_after_seconds: float = field(default=5.0, validator=validators.ge(0))
    circuit_failure_threshold: int = field(default=5, validator=validators.gt(0))
    """Consecutive transient failures that open the circuit."""
    circuit_reset_seconds: float = field(default=30.0, validator=validators.gt(0))
    """How long an open circuit fails fast before one trial request is let through."""
    project_cache_ttl_seconds: float = field(default=5.0, validator=validators.ge(0))
    """How long a fetched project export is reused by other events of the same project."""
    sender_username: str = ""
    """``senderUsername`` of the ``VIDEO_COLLABORATION`` report request."""
    http_client: HttpClientKind = HttpClientKind.AIOHTTP
