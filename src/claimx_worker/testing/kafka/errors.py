"""The error of the test broker kit."""

from __future__ import annotations

from claimx_worker.errors import ClaimXWorkerError


class KafkaBrokerError(ClaimXWorkerError, RuntimeError):
    """The broker could not be resolved, started, reached or asked to do something."""
