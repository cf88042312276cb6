"""Standard Webhooks request signing (https://www.standardwebhooks.com/):
``webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from claimx_worker.errors import ClaimXWorkerError

SECRET_PREFIX = "whsec_"


class SigningKeyError(ClaimXWorkerError, ValueError):
    """A ``whsec_`` signing secret whose key is not valid base64 (the secret is not shown)."""


def signing_key(secret: str) -> bytes:
    """The HMAC key of a signing secret: ``whsec_<base64>`` decodes to its bytes (the standard's
    format); any other string is used as its UTF-8 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise SigningKeyError("signing secret 'whsec_...' is not valid base64") from None


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
