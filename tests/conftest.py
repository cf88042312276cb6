"""Shared test configuration: the claimx_worker testing kit's fixtures, pytester, the
hypothesis profile (no per-example deadline: the machine is shared with a Kafka broker, so an
example's wall time says nothing about the code), and loguru's default handler restored after a
test that ran a CLI command."""

import sys
from collections.abc import Iterator

import pytest
from hypothesis import settings
from loguru import logger

pytest_plugins = ["pytester", "claimx_worker.testing"]

settings.register_profile("claimx", deadline=None)
settings.load_profile("claimx")


@pytest.fixture
def restore_loguru() -> Iterator[None]:
    """The CLI reconfigures loguru onto the runner's stderr: restore the default handler."""
    yield
    logger.remove()
    logger.add(sys.stderr)
