"""A real OAuth2 token endpoint on loopback for the connection tests (async: ``async with``;
sync tests: ``with``, on a thread of its own), and a bearer connection whose endpoint is down
until a test starts it (for the replay and parking tests)."""

from __future__ import annotations

import base64
import socket
from pathlib import Path
from typing import Any, Self

from aiohttp import web

from claimx_worker.testing.background import BackgroundLoop

CRM_TOKEN = "crm-bearer-5e0c9a71"
"""The value of ``${CRM_TOKEN}``, the bearer token of :func:`write_down_connection`'s files."""


def free_port() -> int:
    """A loopback port nothing listens on (until a test starts a server on it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_down_connection(
    plugins_dir: Path, instance: str, port: int, *, max_attempts: int = 2
) -> None:
    """Connection ``crm`` (``http://127.0.0.1:<port>/crm``, bearer ``${CRM_TOKEN}``,
    ``max_attempts`` fast attempts) and an instance ``instance`` whose config names it."""
    (plugins_dir / "connections").mkdir(parents=True, exist_ok=True)
    (plugins_dir / "connections" / "crm.yaml").write_text(
        f"base_url: http://127.0.0.1:{port}/crm\n"
        "auth: {type: bearer, token: '${CRM_TOKEN}'}\n"
        f"retry: {{max_attempts: {max_attempts}, backoff_base: 0.01, backoff_cap: 0.05}}\n"
    )
    (plugins_dir / instance).mkdir(parents=True, exist_ok=True)
    (plugins_dir / instance / "config.yaml").write_text(
        f"plugin: {instance}\nconfig:\n  webhook: {{connection: crm, url: /tasks}}\n"
    )


class TokenEndpoint:
    """Answers client-credentials requests with ``tok-1``, ``tok-2``, ... (``expires_in``
    seconds), or with ``fail_status`` while set; checks the client's credentials."""

    def __init__(self, client_id: str, client_secret: str, *, expires_in: float = 3600) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.expires_in = expires_in
        self.fail_status: int | None = None
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._background = BackgroundLoop("token-endpoint", self.start, self.aclose)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/oauth2/token"

    @property
    def issued(self) -> int:
        """Tokens handed out."""
        return sum(1 for request in self.requests if request["status"] == 200)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        expected = (
            "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        )
        authorized = request.headers.get("Authorization") == expected or (
            form.get("client_id") == self.client_id
            and form.get("client_secret") == self.client_secret
        )
        status = self.fail_status or (200 if authorized else 401)
        if form.get("grant_type") != "client_credentials":
            status = 400
        self.requests.append({"status": status, "form": dict(form)})
        if status != 200:
            return web.json_response({"error": "invalid_client"}, status=status)
        token = f"tok-{self.issued}"
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        )

    async def start(self) -> None:
        """Listen on the running loop; returns when bound."""
        app = web.Application()
        app.router.add_post("/oauth2/token", self._token)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def aclose(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def __enter__(self) -> Self:
        self._background.run()
        return self

    def __exit__(self, *_: object) -> None:
        self._background.stop()
