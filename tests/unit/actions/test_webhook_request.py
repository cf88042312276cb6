"""Building webhook requests and classifying answers (no network)."""

from __future__ import annotations

import httpx
import pytest

from claimx_worker.actions.encoding import InvalidActionError
from claimx_worker.actions.endpoint import endpoint_of
from claimx_worker.actions.settings import ActionSettings
from claimx_worker.actions.signing import SigningSource, signature
from claimx_worker.actions.webhook import build_request, classify
from claimx_worker.config.problems import ConfigValueError
from claimx_worker.http.exchange import Reply
from claimx_worker.model import Webhook

SETTINGS = ActionSettings()


def test_endpoint_of_fills_default_ports_and_drops_everything_else() -> None:
    assert endpoint_of(httpx.URL("https://u:p@h.example.com/a?b=c")) == "https://h.example.com:443"
    assert endpoint_of(httpx.URL("http://h.example.com/x")) == "http://h.example.com:80"
    assert endpoint_of(httpx.URL("http://127.0.0.1:8080/x")) == "http://127.0.0.1:8080"
    assert endpoint_of(httpx.URL("http://[::1]:8080/x")) == "http://[::1]:8080"


def test_request_headers_body_and_key() -> None:
    action = Webhook(
        url="http://127.0.0.1:9/hook",
        method="put",
        headers={"X-Trace": "t", "Idempotency-Key": "plugin-set"},
        body={"a": 1, "é": "ü"},
        timeout=3.0,
    )
    request = build_request(action, "key-1", SETTINGS)
    assert (request.method, request.timeout, request.endpoint) == ("PUT", 3.0, "http://127.0.0.1:9")
    assert request.body == '{"a":1,"é":"ü"}'.encode()
    headers = request.headers_at(1700000000)
    assert headers["Idempotency-Key"] == "key-1"
    assert headers["webhook-id"] == "key-1"
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Trace"] == "t"
    assert "webhook-signature" not in headers


def test_signed_request_uses_the_action_secret_then_the_endpoint_then_the_default() -> None:
    default = ActionSettings(
        signing_secret="default-secret",
        endpoint_signing_secrets={"http://h:80": "endpoint-secret"},
    )
    cases = [
        ("http://h/x", "own-secret", b"own-secret", SigningSource.ACTION),
        ("http://h/x", None, b"endpoint-secret", SigningSource.ENDPOINT),
        ("http://other/x", None, b"default-secret", SigningSource.SETTINGS),
    ]
    for url, secret, expected_key, source in cases:
        action = Webhook(url=url, body=[1], signing_secret=secret)
        request = build_request(action, "key-1", default)
        headers = request.headers_at(42)
        assert headers["webhook-signature"] == signature(expected_key, "key-1", 42, b"[1]")
        assert request.signing is source


def test_an_attempts_own_headers_replace_the_requests_and_come_before_the_signature() -> None:
    action = Webhook(url="http://h/x", headers={"Authorization": "Bearer plugin", "X-A": "a"})
    request = build_request(action, "k", ActionSettings(signing_secret="s"))
    headers = request.headers_at(7, {"Authorization": "Bearer tok-2"})
    assert headers["Authorization"] == "Bearer tok-2"
    assert list(headers)[:2] == ["Authorization", "X-A"]
    assert headers["webhook-signature"] == signature(b"s", "k", 7, b"")
    assert request.headers["Authorization"] == "Bearer plugin"


def test_an_unsigned_request_says_so() -> None:
    request = build_request(Webhook(url="http://h/x"), "k", SETTINGS)
    assert request.signing is SigningSource.NONE
    assert "webhook-signature" not in request.headers_at(1)


@pytest.mark.parametrize(
    "secrets",
    [{"h.example.com": "s3cr3t-x"}, {"https://h.example.com/path": "s3cr3t-x"}, {"https://h": ""}],
)
def test_endpoint_signing_secrets_are_keyed_by_endpoint(secrets: dict[str, str]) -> None:
    with pytest.raises(ConfigValueError, match=r"not an endpoint|is empty") as caught:
        ActionSettings(endpoint_signing_secrets=secrets)
    assert caught.value.key == "endpoint_signing_secrets"
    assert "s3cr3t-x" not in str(caught.value)


def test_no_body_is_an_empty_body_without_content_type() -> None:
    request = build_request(Webhook(url="http://h/x", method="GET"), "k", SETTINGS)
    assert request.body == b""
    assert "content-type" not in request.headers_at(1)


def test_timeout_falls_back_to_the_settings_default() -> None:
    request = build_request(
        Webhook(url="http://h/x", timeout=0), "k", ActionSettings(webhook_timeout=4)
    )
    assert request.timeout == 4


def test_repr_shows_no_headers_or_secrets() -> None:
    action = Webhook(
        url="http://h/x", headers={"Authorization": "Bearer sekrit-1"}, signing_secret="s3cr3t-x"
    )
    request = build_request(action, "k", SETTINGS)
    assert "sekrit-1" not in repr(request)
    assert "s3cr3t-x" not in repr(request)
    assert "sekrit-1" not in repr(action)


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (Webhook(url="ftp://h/x"), "http"),
        (Webhook(url="/relative"), "http"),
        (Webhook(url="http://h/x", body=object()), "JSON"),
        (Webhook(url="http://h/x", signing_secret="whsec_!!"), "base64"),
        (Webhook(url="http://h/x", signing_secret=""), "empty"),
        (Webhook(url="http://h/x", signing_secret="whsec_"), "empty"),
        (Webhook(url="https://user:pa55word@h/x"), "credentials"),
        (Webhook(url="https://user@h/x"), "credentials"),
        (Webhook(url="http://169.254.169.254/latest/meta-data/"), "metadata"),
        (Webhook(url="http://169.254.1.1/x"), "link-local"),
        (Webhook(url="http://[::ffff:169.254.1.1]/x"), "link-local"),
        (Webhook(url="http://[fe80::1]/x"), "link-local"),
        (Webhook(url="http://metadata.google.internal/computeMetadata/v1/"), "metadata"),
        (Webhook(url="http://[fd00:ec2::254]/x"), "metadata"),
        (Webhook(url="http://100.100.100.200/x"), "metadata"),
        (Webhook(url="http://h/x", headers={"X-Task": "Réparation"}), "ASCII"),
        (Webhook(url="http://h/x", headers={"X-\ud800": "x"}), "ASCII"),
    ],
)
def test_invalid_actions(action: Webhook, match: str) -> None:
    with pytest.raises(InvalidActionError, match=match) as caught:
        build_request(action, "k", SETTINGS)
    assert "pa55word" not in str(caught.value)


def test_an_allow_list_limits_the_destination_hosts() -> None:
    settings = ActionSettings(allowed_destinations=("hooks.example.com", "*.crm.example.net"))
    for url in ["https://hooks.example.com/x", "https://eu.crm.example.net:8443/y"]:
        build_request(Webhook(url=url), "k", settings)
    for url in ["https://evil.example.com/x", "https://crm.example.net.evil.io/x"]:
        with pytest.raises(InvalidActionError, match="allowed_destinations"):
            build_request(Webhook(url=url), "k", settings)


def test_link_local_destinations_can_be_allowed_explicitly() -> None:
    settings = ActionSettings(allowed_destinations=("169.254.10.1",))
    build_request(Webhook(url="http://169.254.10.1/x"), "k", settings)


@pytest.mark.parametrize(
    ("status", "headers", "retryable", "retry_after"),
    [
        (200, {}, None, None),
        (204, {}, None, None),
        (429, {"Retry-After": "3"}, True, 3.0),
        (500, {}, True, None),
        (503, {"Retry-After": "junk"}, True, None),
        (301, {}, False, None),
        (400, {}, False, None),
        (401, {}, False, None),
        (404, {"Retry-After": "3"}, False, None),
    ],
)
def test_classify(
    status: int, headers: dict[str, str], retryable: bool | None, retry_after: float | None
) -> None:
    failure = classify(Reply(status, "", httpx.Headers(headers), b""))
    if retryable is None:
        assert failure is None
        return
    assert failure is not None
    assert (failure.retryable, failure.status, failure.retry_after) == (
        retryable,
        status,
        retry_after,
    )
    assert failure.error.startswith(f"HTTP {status}")
