"""Interrupting a synchronous hook that hangs, so it cannot stop the worker.

A sync hook runs inline on the event loop's thread: handing each call to a worker thread would
cost tens of microseconds per call, against a stage-runner target of 30 us for ten instances
(``benchmarks/bench_stage_runner.py``). So the runner only marks the call it is in
(:class:`HookWatch`: two attribute writes), and a watchdog thread looks at the mark every
100 ms. A call still running after its deadline (the instance's time budget, or
``plugins.hung_hook_seconds`` if longer) gets ``SIGUSR2`` sent to the main thread; the handler
raises :class:`HookHungError` inside the hook (blocking calls such as ``time.sleep`` or a socket
read return to run it), the runner counts a timeout and quarantines the instance, and the loop
goes on. A hook that swallows the exception is interrupted again every deadline.

Only when the event loop runs on the main thread (``claimx-worker run``): signal handlers run
there. Elsewhere (the stage harness's loop thread) a hung hook is reported once it returns. A
hook stuck in C code that holds the GIL and ignores signals cannot be interrupted.
"""

from __future__ import annotations

import signal
import threading
from time import perf_counter
from types import FrameType
from typing import Any

from claimx_worker.errors import ClaimXWorkerError

INTERRUPT_SIGNAL = signal.SIGUSR2
_INTERVAL_SECONDS = 0.1


class HookHungError(ClaimXWorkerError):
    """Raised inside a synchronous hook running past its deadline (see the module docstring)."""


class HookWatch:
    """The sync hook call the runner is in: ``call`` (with a ``deadline`` attribute, seconds)
    and its ``start`` (``perf_counter``); ``call`` is ``None`` between calls."""

    __slots__ = ("call", "start")

    def __init__(self) -> None:
        self.call: Any = None
        self.start = 0.0


class HungHookWatchdog:
    """Watches a :class:`HookWatch` from a daemon thread (see the module docstring)."""

    def __init__(self, watch: HookWatch) -> None:
        self._watch = watch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._target: float | None = None
        self._previous: Any = None

    def start(self) -> bool:
        """Install the signal handler and start watching; False (and nothing done) when not
        called on the main thread."""
        if threading.current_thread() is not threading.main_thread() or self._thread:
            return False
        self._previous = signal.signal(INTERRUPT_SIGNAL, self._interrupt)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run,
            args=(threading.main_thread().ident,),
            name="claimx-hook-watchdog",
            daemon=True,
        )
        self._thread.start()
        return True

    def stop(self) -> None:
        """Stop watching and restore the previous signal handler (idempotent)."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        signal.signal(INTERRUPT_SIGNAL, self._previous)

    def _run(self, main: int) -> None:
        watch = self._watch
        signalled_at = 0.0
        while not self._stop.wait(_INTERVAL_SECONDS):
            call, start = watch.call, watch.start
            now = perf_counter()
            if call is None or now - start <= call.deadline:
                continue
            if self._target == start and now - signalled_at <= call.deadline:
                continue  # interrupted already; again only if it swallowed the exception
            self._target, signalled_at = start, now
            signal.pthread_kill(main, INTERRUPT_SIGNAL)

    def _interrupt(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler: raise in the hook, if the call the watchdog saw still runs."""
        watch = self._watch
        if watch.call is not None and watch.start == self._target:
            elapsed = perf_counter() - watch.start
            raise HookHungError(f"still running after {elapsed:.1f} s; interrupted")
