"""The INFO line operators read for each action the executor starts, in the original guide's
words: ``Plugin action: HTTP webhook | url=... method=...`` and ``Plugin action: publish to
topic | topic=... event_id=...``. A webhook's URL is shown without its query (where keys
travel) or user info, and with the secrets the executor knows replaced by their references."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from claimx_worker.actions.identity import ActionRef
from claimx_worker.model import PublishToTopic, Webhook
from claimx_worker.observability.logs import PreparedLogLine, write_line

_MAX_WEBHOOK_LINES = 1024
"""Webhook lines kept rendered (one per URL and method); forgotten all at once when full."""


class ActionAnnouncer:
    """Writes the line of each action; a webhook's line is rendered once per URL and method.
    ``scrub`` replaces secrets in a URL (the executor's scrubber)."""

    __slots__ = ("_scrub", "_webhook_lines")

    def __init__(self, scrub: Callable[[str], str]) -> None:
        self._scrub = scrub
        self._webhook_lines: dict[tuple[str, str], PreparedLogLine] = {}

    def forget(self) -> None:
        """Render every line again (the secrets to scrub changed)."""
        self._webhook_lines = {}

    def announce(self, ref: ActionRef, action: Webhook | PublishToTopic) -> None:
        """Write the line of ``action``, the ``ref``'s action."""
        if isinstance(action, PublishToTopic):
            write_line(
                "info", "Plugin action: publish to topic", topic=action.topic, event_id=ref.event_id
            )
            return
        key = (action.url, action.method)
        line = self._webhook_lines.get(key)
        if line is None:
            if len(self._webhook_lines) >= _MAX_WEBHOOK_LINES:
                self._webhook_lines.clear()
            line = self._webhook_lines[key] = PreparedLogLine(
                "info",
                "Plugin action: HTTP webhook",
                url=self._scrub(shown_url(action.url)),
                method=action.method.upper(),
            )
        line.emit()


def shown_url(url: str) -> str:
    """``scheme://host[:port]/path`` of ``url``: no user info, query or fragment."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "<not a URL>"
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii', 'replace')}{parsed.path}"
