"""The buffered aiohttp transport against a real HTTP server on loopback."""

from __future__ import annotations

import gzip
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from claimx_worker.http.transport import BufferedAiohttpTransport


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    payload = gzip.compress(b'{"method":"%s","body":"%s"}' % (request.method.encode(), body))
    return web.Response(
        body=payload,
        status=207,
        reason="Partly There",
        headers={"Content-Encoding": "gzip", "X-Seen-Token": request.headers["Authorization"]},
    )


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/echo", _echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


async def test_the_whole_response_is_read_and_decoded(server: str) -> None:
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


async def test_a_refused_connection_is_a_connect_error_not_a_timeout() -> None:
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
