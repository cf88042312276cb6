"""Fixtures of the plugin-host tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loguru import logger
from plugin_host_support import FIXTURES
from prometheus_client import CollectorRegistry


@pytest.fixture
def plugin_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make ``claimx_test_plugins`` importable; reset its class-level journal."""
    monkeypatch.syspath_prepend(str(FIXTURES))
    import claimx_test_plugins  # type: ignore[import-not-found]

    claimx_test_plugins.EchoPlugin.journal.clear()
    yield
    claimx_test_plugins.EchoPlugin.journal.clear()


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh prometheus registry."""
    return CollectorRegistry()


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every loguru line written during the test, as ``LEVEL: message | key=value ...``."""
    lines: list[str] = []

    def sink(message: object) -> None:
        record = message.record  # type: ignore[attr-defined]
        extra = " ".join(f"{key}={value}" for key, value in record["extra"].items())
        lines.append(f"{record['level'].name}: {record['message']} | {extra}")

    handler = logger.add(sink, format="{message}", level="DEBUG")
    yield lines
    logger.remove(handler)
