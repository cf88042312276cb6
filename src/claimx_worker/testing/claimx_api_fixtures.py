"""pytest fixtures for the ClaimX API simulator (re-exported by the claimx-worker pytest plugin)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from claimx_worker.testing.claimx_api import ClaimXApiSimulator


@pytest.fixture(scope="session")
def claimx_api_server() -> Iterator[ClaimXApiSimulator]:
    """One simulator for the session (seed 1); prefer the per-test ``claimx_api`` fixture."""
    with ClaimXApiSimulator(seed=1) as simulator:
        yield simulator


@pytest.fixture
def claimx_api(claimx_api_server: ClaimXApiSimulator) -> Iterator[ClaimXApiSimulator]:
    """The session's ClaimX API simulator with default knobs and zeroed counters."""
    claimx_api_server.reset()
    yield claimx_api_server
    claimx_api_server.reset()
