"""Running the Kafka runtime as a process: signal handling and the ``--processor`` factory."""

from __future__ import annotations

import asyncio
import gc
import importlib
import inspect
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker.kafka.context import Processor
from claimx_worker.kafka.runtime import KafkaRuntime, KafkaRuntimeError
from claimx_worker.kafka.topics import MissingTopicsError
from claimx_worker.observability import Redactor, configure_logging
from claimx_worker.settings.worker import WorkerSettings, load_worker_config

ProcessorFactory = Callable[[WorkerSettings], Processor[Any] | Awaitable[Processor[Any]]]
"""Builds the per-event processor from the worker settings (``--processor module:function``);
it may be ``async`` (it is called on the worker's event loop)."""

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_GC_YOUNG_THRESHOLD = 20_000


def load_processor_factory(spec: str) -> ProcessorFactory:
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
    settings: WorkerSettings, processor: Processor[Any], *, registry: CollectorRegistry
) -> None:
    """Run the runtime until SIGTERM or SIGINT, then drain, commit, stop and flush.

    A second signal ends the process at once with status 128 + the signal number. Raises
    :class:`~claimx_worker.kafka.MissingTopicsError` or
    :class:`~claimx_worker.kafka.KafkaRuntimeError` like :meth:`KafkaRuntime.run`.
    """
    runtime = KafkaRuntime(settings.kafka, processor, registry=registry)
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


def run_from_config(config: Path, processor_spec: str, environ: Mapping[str, str]) -> int:
    """``claimx-worker run``: load the settings, build the processor, run; the exit status.

    0 after a clean stop; 2 for missing topics or a bad ``processor_spec``; 1 on a fatal Kafka
    error. Raises :class:`~claimx_worker.settings.ConfigError` for invalid settings.
    """
    loaded = load_worker_config(config, environ)
    configure_logging(redactor=Redactor(loaded.secrets))
    try:
        factory = load_processor_factory(processor_spec)
    except ValueError as exc:
        logger.bind(processor=processor_spec).error("Cannot load the processor: {}", exc)
        return 2
    try:
        asyncio.run(_serve(factory, loaded.value))
    except MissingTopicsError as exc:
        logger.bind(topics=",".join(exc.topics)).error(
            "Missing Kafka topics: create them, or set kafka.create_topics: true (local use)"
        )
        return 2
    except KafkaRuntimeError as exc:
        logger.bind(error=str(exc)).error("Kafka runtime stopped on a fatal error")
        return 1
    return 0


async def _serve(factory: ProcessorFactory, settings: WorkerSettings) -> None:
    made = factory(settings)
    processor = await made if inspect.isawaitable(made) else made
    await run_worker(settings, processor, registry=CollectorRegistry())
