"""Failure classes that decide an event's route: retry topic (transient) or DLQ (permanent)."""

from __future__ import annotations

import enum


class ErrorCategory(enum.StrEnum):
    """Why processing failed; recorded in DLQ records and retry headers."""

    INVALID_EVENT = "invalid_event"
    AUTH = "auth"
    PERMANENT = "permanent"
    TRANSIENT = "transient"


class ProcessingError(Exception):
    """Base of every failure the runtime routes. Messages must never contain secrets."""

    category: ErrorCategory = ErrorCategory.PERMANENT
    retryable: bool = False


class InvalidEventError(ProcessingError, ValueError):
    """The message is not a valid ClaimX event (not JSON, missing or mistyped field)."""

    category = ErrorCategory.INVALID_EVENT


class PermanentError(ProcessingError):
    """Retrying will not help (HTTP 403/404/other 4xx, a missing task assignment id, ...)."""

    category = ErrorCategory.PERMANENT


class AuthError(PermanentError):
    """The ClaimX API rejected our credentials (HTTP 401)."""

    category = ErrorCategory.AUTH


class TransientError(ProcessingError):
    """Worth retrying later (HTTP 429/5xx, timeouts, connection errors, open circuit)."""

    category = ErrorCategory.TRANSIENT
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
