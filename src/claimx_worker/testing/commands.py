"""What the kit's command-line tools share: their help layout, the worker's log format, and
serving on the worker's event loop until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable

from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.redaction import Redactor


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description and epilog kept as written; an option's default (when it has one that
    says something: not ``None``, ``False`` or empty) shown after its help."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        quiet: tuple[object, ...] = (None, False, [], "", argparse.SUPPRESS)
        if text and action.option_strings and action.default not in quiet:
            text += " (default: %(default)s)"
        return text


def command_parser(module: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """The parser of ``python -m module``, laid out by :class:`HelpFormatter`."""
    return argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=description,
        epilog=epilog,
        formatter_class=HelpFormatter,
    )


def start_logging() -> None:
    """Log to stderr in the worker's format (``LOG_LEVEL``, ``LOG_FORMAT``)."""
    configure_logging(redactor=Redactor(), capture_stdlib=False)


def serve_until_signal(
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
    ready: Callable[[], None],
) -> None:
    """Await ``start()``, call ``ready()``, wait for SIGINT or SIGTERM, await ``stop()``.

    Runs on the worker's event loop choice (uvloop when installed: less CPU beside a worker),
    imported here rather than at module level: the kit's fixtures do not need the Kafka modules.
    """
    from claimx_worker.kafka.run import event_loop_factory
    from claimx_worker.kafka.settings import EventLoopKind

    async def serve() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await start()
        try:
            ready()
            await stopping.wait()
        finally:
            await stop()

    with asyncio.Runner(loop_factory=event_loop_factory(EventLoopKind.AUTO)) as runner:
        runner.run(serve())
