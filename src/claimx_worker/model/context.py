"""What a plugin hook receives: the event, its entity rows, handler metadata and its own config."""

from __future__ import annotations

import enum
from typing import Generic, NamedTuple, TypeVar

from attrs import frozen

from claimx_worker.errors import ErrorCategory
from claimx_worker.model.event import ClaimXEvent
from claimx_worker.model.rows import EntityRows, ProjectRow, TaskRow

ConfigT = TypeVar("ConfigT")


class Stage(enum.StrEnum):
    """The pipeline stage a hook runs at."""

    EVENT_RECEIVED = "event_received"
    ENRICHMENT_COMPLETE = "enrichment_complete"
    EVENT_FAILED = "event_failed"


@frozen(kw_only=True)
class HandlerMetadata:
    """How enrichment went: the handler that ran, its API call count and duration."""

    handler: str | None = None
    api_calls: int = 0
    duration_ms: float = 0.0


@frozen(kw_only=True)
class EventFailure:
    """Why an event went to the DLQ: its error category and a secret-free message."""

    category: ErrorCategory
    message: str


class PluginContext(NamedTuple, Generic[ConfigT]):
    """The immutable context of one hook call for one plugin instance.

    Build it with keywords; the stage runner passes them positionally. It is built per call,
    so it is a named tuple: built in about two thirds of a frozen attrs class's time.
    """

    event: ClaimXEvent
    stage: Stage
    rows: EntityRows
    metadata: HandlerMetadata
    config: ConfigT
    instance_name: str

    @property
    def first_task(self) -> TaskRow | None:
        """The first task row, if any (task events produce exactly one)."""
        return self.rows.first_task

    @property
    def project(self) -> ProjectRow | None:
        """The first project row, if any."""
        return self.rows.project
