"""Plain webhook URLs (no connection): the checked URL of the most recent URLs is kept, a
refused one never is, and the kept answer is the one the check gives."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from claimx_worker.actions.encoding import InvalidActionError
from claimx_worker.actions.settings import ActionSettings
from claimx_worker.actions.webhook import (
    URL_CACHE_SIZE,
    build_request,
    checked_url,
    webhook_target,
)
from claimx_worker.model import Webhook

ALLOW_LISTS: list[tuple[str, ...]] = [
    (),
    ("hooks.example.com", "*.crm.example.net"),
    ("169.254.10.1", "[fe80::1]"),
]


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    checked_url.cache_clear()
    yield
    checked_url.cache_clear()


def _outcome(check: Callable[[], tuple[str, str]]) -> tuple[str, object]:
    try:
        return "ok", check()
    except Exception as exc:  # the kind and text of every refusal must match too
        return type(exc).__name__, str(exc)


def _uncached(text: str, allowed: tuple[str, ...]) -> tuple[str, str]:
    """The check as a plain webhook had it before its URLs were kept."""
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        raise InvalidActionError("webhook URL is not valid") from None
    return webhook_target(url, allowed)


@pytest.mark.parametrize(
    ("url", "allowed", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", (), "metadata"),
        ("http://[fe80::1]/x", (), "link-local"),
        ("https://user:pa55word@h/x", (), "credentials"),
        ("ftp://h/x", (), "http"),
        ("/relative", (), "http"),
        ("http://[::1/x", (), "not valid"),
        ("https://evil.example.com/x", ALLOW_LISTS[1], "allowed_destinations"),
    ],
)
def test_a_refused_url_is_refused_every_time(
    url: str, allowed: tuple[str, ...], reason: str
) -> None:
    settings = ActionSettings(allowed_destinations=allowed)
    for _ in range(3):
        with pytest.raises(InvalidActionError, match=reason) as caught:
            build_request(Webhook(url=url), "k", settings)
        assert "pa55word" not in str(caught.value)
    assert checked_url.cache_info().currsize == 0


def test_a_kept_url_is_checked_again_under_another_allow_list() -> None:
    url = "https://evil.example.com/x"
    assert build_request(Webhook(url=url), "k", ActionSettings()).url == url
    with pytest.raises(InvalidActionError, match="allowed_destinations"):
        build_request(Webhook(url=url), "k", ActionSettings(allowed_destinations=ALLOW_LISTS[1]))


def test_checked_urls_are_kept_for_the_most_recent_urls() -> None:
    for n in range(URL_CACHE_SIZE + 10):
        request = build_request(Webhook(url=f"https://h.example.com/{n}"), "k", ActionSettings())
        assert (request.url, request.endpoint) == (
            f"https://h.example.com/{n}",
            "https://h.example.com:443",
        )
    build_request(Webhook(url="https://h.example.com/5000"), "k", ActionSettings())
    build_request(Webhook(url="https://h.example.com/5000"), "k", ActionSettings())
    info = checked_url.cache_info()
    assert (info.currsize, info.hits) == (URL_CACHE_SIZE, 1)


_HOSTS = st.sampled_from(
    [
        "h",
        "hooks.example.com",
        "eu.crm.example.net",
        "crm.example.net.evil.io",
        "169.254.169.254",
        "169.254.10.1",
        "[fe80::1]",
        "[::ffff:169.254.1.1]",
        "METADATA.google.internal.",
        "127.0.0.1",
        "[::1]",
        "",
    ]
) | st.text(max_size=12)
_URLS = st.builds(
    lambda scheme, userinfo, host, port, path: f"{scheme}{userinfo}{host}{port}{path}",
    st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", "//", ""]),
    st.sampled_from(["", "user@", "u:p@", ":@"]),
    _HOSTS,
    st.sampled_from(["", ":80", ":8443", ":0", ":99999", ":x"]),
    st.text(max_size=20),
)


@given(text=_URLS | st.text(max_size=40), allowed=st.sampled_from(ALLOW_LISTS))
def test_the_kept_answer_is_the_checks_answer(text: str, allowed: tuple[str, ...]) -> None:
    expected = _outcome(lambda: _uncached(text, allowed))
    assert _outcome(lambda: checked_url(text, allowed)) == expected
    assert _outcome(lambda: checked_url(text, allowed)) == expected  # kept, or checked again
