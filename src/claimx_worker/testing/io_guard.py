"""Blocking I/O inside plugin hooks: network connections, DNS, subprocesses and file writes.

Hooks return actions; the worker does the I/O. :class:`IOGuard` patches the entry points of
that I/O (``socket.socket.connect``/``connect_ex``/``send``/``sendall``/``sendto``,
``socket.getaddrinfo``, asyncio's ``create_connection``/``create_datagram_endpoint``/
``getaddrinfo``, ``subprocess.Popen``, ``os.system``/``posix_spawn``, and ``open``/``io.open``/
``os.open`` for writing) while it is installed. A patched call is refused (``BlockedIOError``,
a ``PermissionError``) and recorded only on the thread inside :meth:`IOGuard.watching`, that is
while a hook runs; every other thread, and the same thread outside a hook, passes through.
I/O a hook hands to another thread or process is not seen.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import io
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import Any

from attrs import frozen

from claimx_worker.errors import ClaimXWorkerError

_WRITE_MODE_CHARS = frozenset("wax+")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class BlockedIOError(ClaimXWorkerError, PermissionError):
    """I/O attempted inside a plugin hook while the guard is on."""


@frozen
class IOAttempt:
    """One refused I/O call: which instance's hook attempted what."""

    instance: str
    hook: str
    operation: str
    detail: str

    def __str__(self) -> str:
        what = f"{self.operation} {self.detail}".strip()
        return f"{self.hook} of instance '{self.instance}' attempted {what}"


class IOGuard:
    """Install with ``with IOGuard() as guard:``; mark hook calls with :meth:`watching`.

    Guards nest (an inner one wraps the outer one's patches) and must be closed in reverse order.
    """

    def __init__(self) -> None:
        self.attempts: list[IOAttempt] = []
        self._local = threading.local()
        self._patches = contextlib.ExitStack()

    def __enter__(self) -> IOGuard:
        self.install()
        return self

    def __exit__(self, *_: object) -> None:
        self.uninstall()

    @contextlib.contextmanager
    def watching(self, instance: str, hook: str) -> Iterator[None]:
        """Refuse I/O on this thread while the block runs (a hook of ``instance`` is running)."""
        previous = getattr(self._local, "hook", None)
        self._local.hook = (instance, hook)
        try:
            yield
        finally:
            self._local.hook = previous

    def install(self) -> None:
        """Patch the I/O entry points (see the module docstring)."""
        sock = socket.socket
        self._wrap(sock, "connect", "a socket connection", _arg(0, "address", "to "))
        self._wrap(sock, "connect_ex", "a socket connection", _arg(0, "address", "to "))
        self._wrap(sock, "send", "a socket send", _fixed("on an open connection"))
        self._wrap(sock, "sendall", "a socket send", _fixed("on an open connection"))
        self._wrap(sock, "sendto", "a socket send", _arg(-1, "address", "to "))
        self._wrap(socket, "getaddrinfo", "a DNS lookup", _arg(0, "host", "of "))
        loop = asyncio.BaseEventLoop
        self._wrap(loop, "create_connection", "an asyncio connection", _arg(1, "host", "to "))
        self._wrap(loop, "create_datagram_endpoint", "an asyncio UDP endpoint", _fixed(""))
        self._wrap(loop, "getaddrinfo", "a DNS lookup", _arg(0, "host", "of "))
        self._wrap(subprocess.Popen, "_execute_child", "a subprocess", _arg(0, "args", ""))
        self._wrap(os, "system", "a subprocess", _arg(0, "command", ""))
        for name in ("posix_spawn", "posix_spawnp"):
            if hasattr(os, name):
                self._wrap(os, name, "a subprocess", _arg(0, "path", ""))
        opened = _arg(0, "file", "")
        self._wrap(builtins, "open", "a file write", opened, when=_opens_for_writing)
        self._wrap(io, "open", "a file write", opened, when=_opens_for_writing)
        self._wrap(os, "open", "a file write", _arg(0, "path", ""), when=_os_opens_for_writing)

    def uninstall(self) -> None:
        """Restore every patched function."""
        self._patches.close()

    def _wrap(
        self,
        owner: Any,
        name: str,
        operation: str,
        describe: _Describe,
        *,
        when: Callable[[tuple[Any, ...], dict[str, Any]], bool] | None = None,
    ) -> None:
        """Replace ``owner.name``; a method's ``self`` is left out of what ``describe`` and
        ``when`` see."""
        original = getattr(owner, name)
        skip = 1 if isinstance(owner, type) else 0

        def guarded(*args: Any, **kwargs: Any) -> Any:
            running = getattr(self._local, "hook", None)
            if running is not None and (when is None or when(args[skip:], kwargs)):
                detail = describe(args[skip:], kwargs)
                attempt = IOAttempt(running[0], running[1], operation, detail)
                self.attempts.append(attempt)
                raise BlockedIOError(f"no I/O inside plugin hooks: {attempt}")
            return original(*args, **kwargs)

        setattr(owner, name, guarded)
        self._patches.callback(setattr, owner, name, original)


_Describe = Callable[[tuple[Any, ...], dict[str, Any]], str]


def _arg(position: int, keyword: str, prefix: str) -> _Describe:
    """Describe a call by one argument, given by position or keyword."""

    def describe(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        if keyword in kwargs:
            return f"{prefix}{kwargs[keyword]!r}"
        if -len(args) <= position < len(args):
            return f"{prefix}{args[position]!r}"
        return ""

    return describe


def _fixed(text: str) -> _Describe:
    return lambda _args, _kwargs: text


def _opens_for_writing(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    mode = args[1] if len(args) > 1 else kwargs.get("mode", "r")
    return isinstance(mode, str) and not _WRITE_MODE_CHARS.isdisjoint(mode)


def _os_opens_for_writing(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    flags = args[1] if len(args) > 1 else kwargs.get("flags", os.O_RDONLY)
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
