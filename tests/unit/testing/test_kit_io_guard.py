"""The I/O guard: refuses network, subprocess and file-write calls inside a watched hook only."""

from __future__ import annotations

import asyncio
import builtins
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from claimx_worker.testing import BlockedIOError, IOAttempt
from claimx_worker.testing.io_guard import IOGuard


@pytest.fixture
def listener() -> Iterator[tuple[str, int]]:
    """A listening loopback socket (so a connection that is let through succeeds)."""
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()
    server.close()


def test_a_socket_connection_inside_a_hook_is_refused_and_recorded(
    listener: tuple[str, int],
) -> None:
    with IOGuard() as guard:
        with (
            socket.socket() as sock,
            guard.watching("alerts", "on_enrichment_complete"),
            pytest.raises(BlockedIOError, match="no I/O inside plugin hooks"),
        ):
            sock.connect(listener)
        assert guard.attempts == [
            IOAttempt("alerts", "on_enrichment_complete", "a socket connection", f"to {listener!r}")
        ]
        assert str(guard.attempts[0]) == (
            f"on_enrichment_complete of instance 'alerts' attempted a socket connection "
            f"to {listener!r}"
        )
        # outside the hook the same call goes through
        socket.create_connection(listener, timeout=1).close()


def test_other_threads_are_not_affected_while_a_hook_runs(listener: tuple[str, int]) -> None:
    outcome: list[object] = []

    def elsewhere() -> None:
        connection = socket.create_connection(listener, timeout=1)
        outcome.append("connected")
        connection.close()

    with IOGuard() as guard, guard.watching("a", "on_event_received"):
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
    assert outcome == ["connected"]
    assert guard.attempts == []


def test_file_writes_are_refused_and_reads_are_not(tmp_path: Path) -> None:
    readable = tmp_path / "in.txt"
    readable.write_text("data")
    target = tmp_path / "out.txt"
    with IOGuard() as guard, guard.watching("a", "on_enrichment_complete"):
        assert readable.read_text() == "data"
        with open(readable, "rb") as stream:
            assert stream.read() == b"data"
        for write in (
            lambda: open(target, "w"),  # noqa: SIM115
            lambda: open(target, mode="a"),  # noqa: SIM115
            lambda: target.write_text("x"),
            lambda: open(readable, "r+"),  # noqa: SIM115
            lambda: os.open(target, os.O_WRONLY | os.O_CREAT),
        ):
            with pytest.raises(BlockedIOError):
                write()
    assert not target.exists()
    assert [a.operation for a in guard.attempts] == ["a file write"] * 5


def test_subprocesses_and_dns_lookups_are_refused() -> None:
    with IOGuard() as guard, guard.watching("a", "on_event_failed"):
        with pytest.raises(BlockedIOError):
            subprocess.run([sys.executable, "-c", "pass"], check=True)
        with pytest.raises(BlockedIOError):
            os.system("true")
        with pytest.raises(BlockedIOError):
            socket.getaddrinfo("example.com", 443)
    assert [a.operation for a in guard.attempts] == ["a subprocess", "a subprocess", "a DNS lookup"]


def test_asyncio_connections_are_refused(listener: tuple[str, int]) -> None:
    async def hook() -> None:
        await asyncio.open_connection(*listener)

    with (
        IOGuard() as guard,
        guard.watching("a", "on_enrichment_complete"),
        pytest.raises(BlockedIOError),
    ):
        asyncio.run(hook())
    assert guard.attempts[0].operation in ("an asyncio connection", "a DNS lookup")


def test_uninstalling_restores_every_function() -> None:
    before = (builtins.open, socket.socket.connect, subprocess.Popen._execute_child, os.open)
    guard = IOGuard()
    guard.install()
    assert builtins.open is not before[0]
    guard.uninstall()
    after = (builtins.open, socket.socket.connect, subprocess.Popen._execute_child, os.open)
    assert after == before


def test_guards_nest(tmp_path: Path) -> None:
    with IOGuard() as outer, IOGuard() as inner:
        with inner.watching("b", "on_event_received"), pytest.raises(BlockedIOError):
            open(tmp_path / "x", "w")  # noqa: SIM115
        with outer.watching("a", "on_event_received"), pytest.raises(BlockedIOError):
            open(tmp_path / "y", "w")  # noqa: SIM115
    assert [a.instance for a in inner.attempts] == ["b"]
    assert [a.instance for a in outer.attempts] == ["a"]
    open(tmp_path / "z", "w").close()
