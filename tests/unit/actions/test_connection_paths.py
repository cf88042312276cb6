"""A connection webhook's path is untrusted (it may come from event data through a template):
whatever it holds, the URL that goes out (as the aiohttp exchange sends it) stays on the
connection's scheme, host and port and below its base path, or the path is refused with
:class:`InvalidActionError`. The checked URL of a path is kept per connection; a refusal is not."""

from __future__ import annotations

import pytest
import yarl
from hypothesis import given, settings
from hypothesis import strategies as st

from claimx_worker.actions.connections import PATH_CACHE_SIZE, ConnectionRuntime
from claimx_worker.actions.encoding import InvalidActionError
from claimx_worker.actions.settings import ActionSettings
from claimx_worker.actions.webhook import build_request
from claimx_worker.http.connections import Connection, ConnectionConfig
from claimx_worker.http.exchange import webhook_exchange
from claimx_worker.model import Webhook

BASES = ["https://crm.example.com", "https://crm.example.com/api/", "http://127.0.0.1:8080/v2"]
SETTINGS = ActionSettings()

_HOSTILE_PIECES = st.sampled_from(
    [
        "",
        ".",
        "..",
        "%2e",
        "%2E%2e",
        ".%2e",
        "%2e.",
        "%252e%252e",
        "..\\",
        "\\..",
        "@evil.example",
        "evil.example:80",
        "user:pw@evil.example",
        "//evil.example",
        "http://evil.example",
        ":443",
        "%2f..",
        ";..",
        "..;",
        "?",
        "#",
        "?..",
        "#/..",
        "%00",
        " ",
        "\t",
        "é",
    ]
)
_SEGMENTS = (
    _HOSTILE_PIECES | st.lists(_HOSTILE_PIECES, max_size=3).map("".join) | st.text(max_size=6)
)
_PATHS = st.lists(_SEGMENTS, min_size=1, max_size=5).map("/".join) | st.text(max_size=20)


def _runtime(base: str) -> ConnectionRuntime:
    connection = Connection("crm", ConnectionConfig(base_url=base), "crm.yaml")
    return ConnectionRuntime(connection, SETTINGS, webhook_exchange(allowed_destinations=()))


RUNTIMES = {base: _runtime(base) for base in BASES}
"""One per base URL for the properties (so they also go through the kept URLs)."""


def _sent(url: str) -> yarl.URL:
    """The URL the aiohttp exchange sends for ``url`` (it parses request URLs with yarl)."""
    return yarl.URL(url)


@settings(max_examples=500)
@given(base=st.sampled_from(BASES), path=_PATHS, prefix=st.sampled_from(["/", "/", "", "//"]))
def test_a_path_stays_below_the_base_url_or_is_refused(base: str, path: str, prefix: str) -> None:
    try:
        url = RUNTIMES[base].url(prefix + path)
    except InvalidActionError:
        return
    sent, configured = _sent(url), _sent(base)
    assert (sent.scheme, sent.host, sent.port) == (
        configured.scheme,
        configured.host,
        configured.port,
    )
    base_path = configured.raw_path.rstrip("/") + "/"
    assert sent.raw_path.startswith(base_path)
    assert not {".", ".."} & set(sent.raw_path.split("/"))


@given(base=st.sampled_from(BASES), path=_PATHS)
def test_an_accepted_path_goes_where_a_plain_webhook_to_the_joined_url_goes(
    base: str, path: str
) -> None:
    """The checked URL is the one a webhook to the base URL joined with the path is sent to."""
    path = "/" + path.lstrip("/")
    try:
        url = RUNTIMES[base].url(path)
    except InvalidActionError:
        return
    assert url == build_request(Webhook(url=base.rstrip("/") + path), "k", SETTINGS).url


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("x", "takes a path starting with '/'"),
        ("", "takes a path starting with '/'"),
        ("@evil.example/x", "takes a path starting with '/'"),
        ("//evil.example/x", "takes a path starting with '/'"),
        ("https://evil.example/x", "takes a path starting with '/'"),
        ("/..", "climbs above"),
        ("/a/./b", "climbs above"),
        ("/a/../../admin?x=1", "climbs above"),
        ("/%2e%2e/admin", "climbs above"),
        ("/a/%2E./%2e%2E/admin#top", "climbs above"),
    ],
)
def test_hostile_paths_are_refused_every_time(path: str, reason: str) -> None:
    runtime = _runtime("https://crm.example.com/api")
    for _ in range(2):
        with pytest.raises(InvalidActionError, match=reason):
            runtime.url(path)
    assert runtime.url.cache_info().currsize == 0


def test_dots_after_the_path_are_not_segments() -> None:
    runtime = _runtime("https://crm.example.com/api")
    assert runtime.url("/x?next=/../y") == "https://crm.example.com/api/x?next=/../y"
    assert runtime.url("/x#/..") == "https://crm.example.com/api/x#/.."


def test_checked_urls_are_kept_for_the_most_recent_paths() -> None:
    runtime = _runtime("https://crm.example.com/api")
    for n in range(PATH_CACHE_SIZE + 10):
        assert runtime.url(f"/contacts/{n}") == f"https://crm.example.com/api/contacts/{n}"
    runtime.url("/contacts/5000")
    runtime.url("/contacts/5000")
    info = runtime.url.cache_info()
    assert (info.currsize, info.hits) == (PATH_CACHE_SIZE, 1)
