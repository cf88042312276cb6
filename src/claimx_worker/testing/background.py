"""Running an asyncio server on a daemon thread of its own, for sync tests and other processes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable


class BackgroundLoop:
    """Calls ``start()`` on a new event loop in a daemon thread, keeps the loop running until
    :meth:`stop`, then calls ``stop()`` there. :meth:`run` returns once ``start()`` finished and
    raises what it raised."""

    def __init__(
        self,
        name: str,
        start: Callable[[], Awaitable[None]],
        stop: Callable[[], Awaitable[None]],
    ) -> None:
        self._name = name
        self._start = start
        self._stop = stop
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def run(self) -> None:
        """Start the thread; return when ``start()`` has completed."""
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            try:
                await self._start()
            except BaseException as exc:
                failure.append(exc)
                return
            finally:
                ready.set()
            try:
                await self._stopping.wait()
            finally:
                await self._stop()

        self._thread = threading.Thread(target=asyncio.run, args=(serve(),), name=self._name)
        self._thread.daemon = True
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join(timeout=10)
            raise failure[0]

    def stop(self) -> None:
        """Call ``stop()`` on the loop's thread and join it (does nothing when not running)."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = self._loop = self._stopping = None
