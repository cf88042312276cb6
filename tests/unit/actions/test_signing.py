"""Standard Webhooks signing against the specification's published test vector."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from claimx_worker.actions.signing import (
    SigningKeyError,
    signature,
    signature_headers,
    signing_key,
)

# From the Standard Webhooks reference library's tests (standard-webhooks/standard-webhooks,
# libraries/python/tests/test_webhooks.py, test_sign_function).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_published_test_vector() -> None:
    key = signing_key(VECTOR_SECRET)
    assert signature(key, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_headers() -> None:
    headers = signature_headers(
        signing_key(VECTOR_SECRET), VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY
    )
    assert headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }


def test_a_plain_secret_is_used_as_utf8_bytes() -> None:
    expected = hmac.new(b"plain-secret", b"id.5.{}", hashlib.sha256).digest()
    assert signature(signing_key("plain-secret"), "id", 5, b"{}") == (
        "v1," + base64.b64encode(expected).decode()
    )


def test_a_bad_whsec_key_is_rejected_without_showing_it() -> None:
    with pytest.raises(SigningKeyError) as caught:
        signing_key("whsec_not*base64!")
    assert "not*base64" not in str(caught.value)


@pytest.mark.parametrize("secret", ["", "whsec_"])
def test_an_empty_key_is_rejected(secret: str) -> None:
    """An empty key would sign with nothing (or send unsigned) while the record says signed."""
    with pytest.raises(SigningKeyError, match="empty"):
        signing_key(secret)
