"""The error of the test broker kit."""

from __future__ import annotations


class KafkaBrokerError(RuntimeError):
    """The broker could not be resolved, started, reached or asked to do something."""
