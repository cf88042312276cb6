"""The HTTP exchanges (aiohttp driven directly, and httpx) and the buffered aiohttp transport
against real servers on loopback: the same replies, no redirects followed, timeouts, error
classes and TLS verification."""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from claimx_worker.http.exchange import AiohttpExchange, Exchange, HttpxExchange
from claimx_worker.http.transport import BufferedAiohttpTransport

MakeExchange = Callable[[], Exchange]


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    payload = gzip.compress(b'{"method":"%s","body":"%s"}' % (request.method.encode(), body))
    return web.Response(
        body=payload,
        status=207,
        reason="Partly There",
        headers={"Content-Encoding": "gzip", "X-Seen-Token": request.headers["Authorization"]},
    )


async def _redirect(_: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": "/echo"})


async def _slow(_: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response()


async def _serve(ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/echo", _echo)
    app.router.add_get("/redirect", _redirect)
    app.router.add_get("/slow", _slow)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"{'https' if ssl_context else 'http'}://{host}:{port}"


@pytest.fixture
async def server() -> AsyncIterator[str]:
    runner, url = await _serve()
    yield url
    await runner.cleanup()


@pytest.fixture(params=["aiohttp", "httpx"])
async def make_exchange(request: pytest.FixtureRequest) -> AsyncIterator[MakeExchange]:
    made: list[Exchange] = []

    def make() -> Exchange:
        exchange: Exchange = (
            AiohttpExchange(max_connections=4)
            if request.param == "aiohttp"
            else HttpxExchange(httpx.AsyncClient())
        )
        made.append(exchange)
        return exchange

    yield make
    for exchange in made:
        await exchange.aclose()


async def test_the_whole_response_is_read_and_decoded(
    server: str, make_exchange: MakeExchange
) -> None:
    reply = await make_exchange().send(
        "POST",
        f"{server}/echo",
        headers={"Authorization": "Basic abc"},
        content=b"hi",
        timeout_seconds=5,
    )
    assert (reply.status, reply.reason) == (207, "Partly There")
    assert reply.headers["x-seen-token"] == "Basic abc"
    assert reply.content == b'{"method":"POST","body":"hi"}'


async def test_redirects_are_not_followed(server: str, make_exchange: MakeExchange) -> None:
    reply = await make_exchange().send(
        "GET", f"{server}/redirect", headers={}, content=None, timeout_seconds=5
    )
    assert reply.status == 302
    assert reply.headers["location"] == "/echo"


async def test_a_slow_answer_is_a_timeout(server: str, make_exchange: MakeExchange) -> None:
    with pytest.raises(httpx.TimeoutException):
        await make_exchange().send(
            "GET", f"{server}/slow", headers={}, content=None, timeout_seconds=0.2
        )


async def test_a_refused_connection_is_a_connect_error(make_exchange: MakeExchange) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    with pytest.raises(httpx.ConnectError):
        await make_exchange().send("GET", url, headers={}, content=None, timeout_seconds=5)


@pytest.fixture
def self_signed(tmp_path: Path) -> ssl.SSLContext:
    """A server TLS context with a self-signed certificate for 127.0.0.1."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_an_unverified_certificate_is_refused(
    self_signed: ssl.SSLContext, make_exchange: MakeExchange
) -> None:
    runner, url = await _serve(self_signed)
    try:
        with pytest.raises(httpx.ConnectError, match=r"(?i)certificate"):
            await make_exchange().send(
                "GET", f"{url}/redirect", headers={}, content=None, timeout_seconds=5
            )
    finally:
        await runner.cleanup()


async def test_the_buffered_transport_reads_and_decodes_the_whole_response(server: str) -> None:
    transport = BufferedAiohttpTransport()
    try:
        request = httpx.Request(
            "POST", f"{server}/echo", headers={"Authorization": "Basic abc"}, content=b"hi"
        )
        response = await transport.handle_async_request(request)
    finally:
        await transport.aclose()
    assert response.status_code == 207
    assert response.reason_phrase == "Partly There"
    assert response.headers["x-seen-token"] == "Basic abc"
    assert response.json() == {"method": "POST", "body": "hi"}
    assert response.request is request


async def test_the_buffered_transport_reports_a_refused_connection_as_a_connect_error() -> None:
    # httpx-aiohttp's own mapping turns every aiohttp connection error into ConnectTimeout
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    transport = BufferedAiohttpTransport()
    try:
        with pytest.raises(httpx.TransportError) as caught:
            await transport.handle_async_request(httpx.Request("GET", url))
    finally:
        await transport.aclose()
    assert caught.type is httpx.ConnectError
    assert "Cannot connect to host 127.0.0.1" in str(caught.value)
