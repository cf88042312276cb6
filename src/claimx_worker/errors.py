"""The root of every exception claimx-worker raises on purpose, and the failure classes that
decide an event's route: retry topic (transient) or DLQ (permanent, invalid, auth).

The exception tree (``except ClaimXWorkerError`` catches all of it; where a class also derives
from a built-in exception, the built-in is named in brackets)::

    ClaimXWorkerError
    ├── ProcessingError                an event failed; its category routes it
    │   ├── InvalidEventError          not a valid ClaimX event (ValueError)
    │   ├── PermanentError             retrying will not help
    │   │   ├── AuthError              the ClaimX API refused the credentials
    │   │   └── RowTypeError           tables.columns: a row value does not fit its table column
    │   └── TransientError             worth retrying later
    │       ├── DeferredError          not now: retried without spending an attempt
    │       │   ├── CircuitOpenError   http.breaker: the circuit fails requests fast
    │       │   ├── RateLimitedError   http.pacing: the API asked us to slow down (429)
    │       │   └── PluginQuarantinedError  plugins.quarantine: a held instance is quarantined
    │       └── TableCommitError       tables.delta: a Delta table could not be committed
    ├── ConfigError                    config.problems: every problem of a settings/plugin file
    ├── ConfigValueError               config.problems: a config validator's refusal (ValueError)
    ├── LogVariableError               observability.logs: unknown LOG_LEVEL/LOG_FORMAT (ValueError)
    ├── KafkaRuntimeError              kafka.runtime: a fatal Kafka error stopped the runtime
    ├── MissingTopicsError             kafka.topics: topics the worker needs do not exist
    ├── DeliveryError                  kafka.producer: a message was not acknowledged
    ├── TokenError                     http.oauth2: no OAuth2 token from the token endpoint
    ├── InvalidActionError             actions.encoding: an action cannot be sent (ValueError)
    ├── SigningKeyError                actions.signing: a bad signing secret (ValueError)
    ├── MetricActionError              actions.metric_counters: a bad Metric action (ValueError)
    ├── MissingSecretError             actions.secrets: an unset variable (LookupError)
    ├── UnreplayableError              actions.dead_letter: a DLQ record not replayable (ValueError)
    │   └── InvalidDeadLetterError     actions.dead_letter: not an action DLQ record at all
    ├── DeadLetterWriteError           actions.executor: a DLQ write failed (RuntimeError)
    ├── ReplayError                    kafka.dead_letters: a DLQ replay cannot go on
    ├── HookHungError                  plugins.watchdog: a sync hook interrupted past its deadline
    ├── ScaffoldError                  plugins.scaffold: ``plugins new`` cannot write the project
    ├── StartupError                   worker: a start-up check failed (names the setting to fix)
    ├── ReloadSignalError              reload: no running worker to send SIGHUP to
    ├── TablesExtraMissingError        tables: the tables extra (deltalake, pyarrow) is missing
    ├── TableQueryError                tables.maintenance: a table is missing or a query is bad
    ├── InvalidInputError              simulate: the event file is not an event (ValueError)
    ├── KafkaBrokerError               testing.kafka: the test broker failed (RuntimeError)
    ├── BlockedIOError                 testing.io_guard: I/O inside a hook (PermissionError)
    └── HookError                      testing.harness: a hook failed in a test (AssertionError)
"""

from __future__ import annotations

import enum


class ErrorCategory(enum.StrEnum):
    """Why processing failed; recorded in DLQ records and retry headers."""

    INVALID_EVENT = "invalid_event"
    AUTH = "auth"
    PERMANENT = "permanent"
    TRANSIENT = "transient"


class ClaimXWorkerError(Exception):
    """The root of every exception claimx-worker raises on purpose."""


class ProcessingError(ClaimXWorkerError):
    """Base of every failure the runtime routes. Messages must never contain secrets."""

    category: ErrorCategory = ErrorCategory.PERMANENT
    retryable: bool = False
    spends_attempt: bool = True
    """Whether the failure counts against the event's retries (see :class:`DeferredError`)."""


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


class DeferredError(TransientError):
    """The work was not done because a destination said "not now" (its circuit is open, or it
    asked us to slow down), not because the event failed: the event goes to a retry topic
    without spending one of its retries, so every retry it is given reaches the destination."""

    spends_attempt = False
