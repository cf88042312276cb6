"""Running the Kafka runtime as a process: the event loop, signal handling and the
``--processor`` factory."""

from __future__ import annotations

import asyncio
import gc
import importlib
import importlib.util
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker.kafka.context import Processor
from claimx_worker.kafka.runtime import KafkaRuntime
from claimx_worker.kafka.settings import EventLoopKind, KafkaSettings
from claimx_worker.observability.redaction import Redactor

SettingsT = TypeVar("SettingsT")

ProcessorFactory = Callable[[SettingsT], Processor[Any] | Awaitable[Processor[Any]]]
"""Builds the per-event processor from the application's settings (``--processor
module:function``: ``claimx-worker run`` passes its ``WorkerSettings``); it may be ``async`` (it
is called on the worker's event loop)."""

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_GC_YOUNG_THRESHOLD = 20_000


def resolve_event_loop(kind: EventLoopKind) -> EventLoopKind:
    """``kind`` with ``auto`` resolved: uvloop when it is installed, else asyncio."""
    if kind is not EventLoopKind.AUTO:
        return kind
    installed = importlib.util.find_spec("uvloop") is not None
    return EventLoopKind.UVLOOP if installed else EventLoopKind.ASYNCIO


def event_loop_factory(kind: EventLoopKind) -> Callable[[], asyncio.AbstractEventLoop]:
    """The constructor of the event loop ``kind`` names, for :class:`asyncio.Runner`.

    uvloop (``auto``'s choice when installed) spends markedly less CPU per socket read, timer and
    callback than asyncio's loop, and the worker is CPU-bound.
    """
    if resolve_event_loop(kind) is EventLoopKind.ASYNCIO:
        return asyncio.new_event_loop
    import uvloop

    return uvloop.new_event_loop


def load_processor_factory(spec: str) -> ProcessorFactory[Any]:
    """Import ``module:function``; raises :class:`ValueError` naming what is wrong."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected module:function, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r}: {exc}") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ValueError(f"{module_name!r} has no callable {attribute!r}")
    return factory  # type: ignore[no-any-return]


def tune_gc() -> None:
    """Tune the cyclic garbage collector for a long-running worker (process-wide).

    Objects that exist at start (modules, settings, plugins) are frozen out of collections, and
    young collections run every 20,000 allocations instead of 700: each event allocates a few
    short-lived objects, and with the defaults collections took about a fifth of the runtime's
    CPU in ``benchmarks/bench_runtime.py``.
    """
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, middle, old)


async def run_worker(
    settings: KafkaSettings,
    processor: Processor[Any],
    *,
    registry: CollectorRegistry,
    redactor: Redactor | None = None,
    on_runtime: Callable[[KafkaRuntime[Any]], None] | None = None,
) -> None:
    """Run the runtime until SIGTERM or SIGINT, then drain, commit, stop and flush; ``redactor``
    masks secrets in the error messages of DLQ and retry records; ``on_runtime`` is handed the
    runtime before it starts (e.g. to serve its partitions on ``/status``).

    A second signal ends the process at once with status 128 + the signal number. Raises
    :class:`~claimx_worker.kafka.MissingTopicsError` or
    :class:`~claimx_worker.kafka.KafkaRuntimeError` like :meth:`KafkaRuntime.run`.
    """
    runtime = KafkaRuntime(settings, processor, registry=registry, redactor=redactor)
    if on_runtime is not None:
        on_runtime(runtime)
    tune_gc()
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        if len(received) == 1:
            logger.bind(signal=signal.Signals(signum).name).info("Stopping: draining events")
            runtime.stop()
        else:
            logger.bind(signal=signal.Signals(signum).name).warning("Second signal: exiting now")
            os._exit(128 + signum)

    for signum in _SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await runtime.run()
    finally:
        for signum in _SIGNALS:
            loop.remove_signal_handler(signum)
