"""aiohttp errors as httpx errors: the most specific aiohttp class decides."""

from __future__ import annotations

import aiohttp
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey

from claimx_worker.http.transport import httpx_errors

KEY = ConnectionKey("127.0.0.1", 9, False, True, None, None, None)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (
            aiohttp.ClientConnectorError(KEY, ConnectionRefusedError(111, "refused")),
            httpx.ConnectError,
        ),
        (aiohttp.ConnectionTimeoutError("connect timed out"), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError("read timed out"), httpx.ReadTimeout),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), httpx.NetworkError),
        (aiohttp.ClientPayloadError("truncated"), httpx.ReadError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.__name__,
)
def test_the_most_specific_aiohttp_class_decides(
    raised: Exception, expected: type[httpx.TransportError]
) -> None:
    with pytest.raises(httpx.TransportError) as caught, httpx_errors():
        raise raised
    assert caught.type is expected
    assert caught.value.__cause__ is raised


def test_other_errors_pass_through() -> None:
    with pytest.raises(KeyError), httpx_errors():
        raise KeyError("not an aiohttp error")
