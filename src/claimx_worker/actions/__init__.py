"""Executing plugin actions: Kafka publishes and webhooks with retries, idempotency keys,
signatures and an action DLQ; log lines and plugin metrics; replaying the action DLQ."""

from claimx_worker.actions.dead_letter import DeadLetter
from claimx_worker.actions.executor import (
    ActionExecutor,
    ActionOutcome,
    DeadLetterWriteError,
    OutcomeStatus,
)
from claimx_worker.actions.identity import ActionRef, idempotency_key
from claimx_worker.actions.publish import Produce
from claimx_worker.actions.secrets import secret_refs_from_environ
from claimx_worker.actions.settings import DEFAULT_DLQ_TOPIC, ActionSettings

__all__ = [
    "DEFAULT_DLQ_TOPIC",
    "ActionExecutor",
    "ActionOutcome",
    "ActionRef",
    "ActionSettings",
    "DeadLetter",
    "DeadLetterWriteError",
    "OutcomeStatus",
    "Produce",
    "idempotency_key",
    "secret_refs_from_environ",
]
