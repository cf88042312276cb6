"""The read-only ``GET /status`` document: sections filled by providers the worker registers.

Each provider is called on the server's thread at request time and returns a JSON-able value;
it must only read (a snapshot of) state the worker keeps anyway. The worker registers
``plugins`` (instances with their state, mode and counts), ``config`` (the configuration hash
and the last reload's result) and ``partitions`` (:data:`PartitionsProvider`: one mapping per
assigned partition; lag figures join those mappings when the Kafka runtime reports them). A
provider that raises makes its section ``{"error": "<type>"}``; the others are still served.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from loguru import logger

PartitionsProvider = Callable[[], Sequence[Mapping[str, object]]]
"""The assigned partitions, one mapping each (``topic``, ``partition``, then any figures)."""


class StatusBoard:
    """The sections of ``/status`` and their providers, in registration order."""

    def __init__(self) -> None:
        self._providers: dict[str, Callable[[], object]] = {}

    def provide(self, section: str, provider: Callable[[], object]) -> None:
        """Fill ``section`` from ``provider`` (replacing an earlier one)."""
        self._providers[section] = provider

    def snapshot(self) -> dict[str, object]:
        """Every section, each from its provider now."""
        document: dict[str, object] = {}
        for section, provider in list(self._providers.items()):
            try:
                document[section] = provider()
            except Exception as exc:
                logger.opt(exception=exc).bind(section=section).error("Status section failed")
                document[section] = {"error": type(exc).__name__}
        return document
