"""Shared test configuration: the claimx_worker testing kit's fixtures, pytester, the
hypothesis profile (no per-example deadline: the machine is shared with a Kafka broker, so an
example's wall time says nothing about the code), and loguru's default handler restored after a
test that ran a CLI command."""

import logging
import sys
import threading
from collections.abc import Iterator

import pytest
from hypothesis import settings
from loguru import logger

pytest_plugins = ["pytester", "claimx_worker.testing"]

settings.register_profile("claimx", deadline=None)
settings.load_profile("claimx")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """For tests that configure logging (directly, or through a CLI command): put loguru's
    default handler, the standard root logger and the uncaught-exception hooks back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    hooks = sys.excepthook, threading.excepthook
    yield
    logger.remove()
    logger.add(sys.stderr)
    root.handlers[:] = handlers
    root.setLevel(level)
    sys.excepthook, threading.excepthook = hooks
