"""pytest fixtures for the webhook receiver (re-exported by the claimx-worker pytest plugin)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from claimx_worker.testing.webhooks import WebhookReceiver


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A :class:`~claimx_worker.testing.webhooks.WebhookReceiver` on its own thread, for one
    test (usable from sync and async tests alike)."""
    with WebhookReceiver() as receiver:
        yield receiver
