"""Standard Webhooks request signing (https://www.standardwebhooks.com/):
``webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">``."""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
from collections.abc import Mapping

from claimx_worker.errors import ClaimXWorkerError

SECRET_PREFIX = "whsec_"


class SigningKeyError(ClaimXWorkerError, ValueError):
    """A ``whsec_`` signing secret whose key is not valid base64 (the secret is not shown)."""


class SigningSource(enum.StrEnum):
    """Which signing secret a webhook is signed with (recorded in action DLQ records)."""

    NONE = "none"
    ACTION = "action"
    """The action's own ``signing_secret``."""
    ENDPOINT = "endpoint"
    """The settings' ``endpoint_signing_secrets`` entry for the webhook's endpoint."""
    SETTINGS = "settings"
    """The settings' ``signing_secret``."""


def signing_secret_for(
    action_secret: str | None,
    endpoint: str,
    endpoint_secrets: Mapping[str, str],
    default: str | None,
) -> tuple[str | None, SigningSource]:
    """The secret a webhook to ``endpoint`` is signed with, and where it came from: the
    action's own, else its endpoint's, else the default; ``(None, NONE)`` when none is set."""
    if action_secret is not None:
        return action_secret, SigningSource.ACTION
    if endpoint in endpoint_secrets:
        return endpoint_secrets[endpoint], SigningSource.ENDPOINT
    if default is not None:
        return default, SigningSource.SETTINGS
    return None, SigningSource.NONE


def signing_key(secret: str) -> bytes:
    """The HMAC key of a signing secret: ``whsec_<base64>`` decodes to its bytes (the standard's
    format); any other string is used as its UTF-8 bytes. An empty key is refused: it would
    sign with nothing."""
    if not secret.startswith(SECRET_PREFIX):
        key = secret.encode()
    else:
        try:
            key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except (binascii.Error, ValueError):
            raise SigningKeyError("signing secret 'whsec_...' is not valid base64") from None
    if not key:
        raise SigningKeyError("signing secret is empty")
    return key


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one message."""
    signed = b".".join((msg_id.encode(), str(timestamp).encode(), body))
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(key: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, msg_id, timestamp, body),
    }
