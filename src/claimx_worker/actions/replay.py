"""Replaying the action DLQ: read it from the committed position to the end seen at start, and
run each record's action again with the same idempotency key and the current secrets, within the
current configuration of its instance (see :mod:`~claimx_worker.actions.dead_letter`).

The replay consumer has its own group and commits what it replayed, so a second replay does not
redo it. Records that fail again are written to the DLQ again by the executor (after the end
seen at start: a replay never loops). A dry run lists the records, each with whether it would be
replayed, and neither runs nor commits.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from confluent_kafka import Message
from loguru import logger

from claimx_worker.actions.dead_letter import (
    DeadLetter,
    InvalidDeadLetterError,
    ReplayScope,
    UnreplayableError,
    to_action,
)
from claimx_worker.actions.executor import ActionExecutor, ActionOutcome, OutcomeStatus
from claimx_worker.actions.secrets import MissingSecretError
from claimx_worker.kafka.dead_letters import ReplayError, open_dead_letters
from claimx_worker.model import PublishToTopic, Webhook


@attrs.frozen(kw_only=True)
class Scopes:
    """What replay may use: each configured instance's :class:`ReplayScope`, and the
    environment the scopes' variables are read from."""

    by_instance: Mapping[str, ReplayScope]
    environ: Mapping[str, str] = attrs.field(repr=False)

    def action(self, record: DeadLetter) -> Webhook | PublishToTopic:
        """``record``'s action within its instance's scope (see
        :func:`~claimx_worker.actions.dead_letter.to_action`); raises
        :class:`UnreplayableError` or :class:`MissingSecretError`."""
        scope = self.by_instance.get(record.instance)
        if scope is None:
            raise UnreplayableError(f"instance {record.instance!r} is not configured now")
        return to_action(record, self.environ, scope)

    def secret_refs(self, record: DeadLetter) -> dict[str, str]:
        """Secret value -> variable of the variables ``record`` refers to (for an executor's
        :meth:`~ActionExecutor.add_secret_refs`, once :meth:`action` succeeded)."""
        names = [*record.secret_vars, *filter(None, [record.signing_secret_var])]
        return {self.environ[name]: name for name in names}


@attrs.define
class ReplaySummary:
    """What a replay did."""

    records: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    unreplayable: int = 0


Echo = Callable[[str], None]


async def replay_dead_letters(
    consumer_config: Mapping[str, Any],
    *,
    topic: str,
    executor: ActionExecutor | None,
    scopes: Scopes,
    max_records: int | None = None,
    echo: Echo,
) -> ReplaySummary:
    """Replay ``topic`` (``consumer_config`` includes ``group.id``) within ``scopes``;
    ``executor=None`` is a dry run, which says of each record whether it would be replayed.
    ``echo`` gets one JSON line per record. Raises
    :class:`~claimx_worker.kafka.dead_letters.ReplayError`, or
    :class:`~claimx_worker.actions.executor.DeadLetterWriteError` when a record could neither be
    delivered nor dead-lettered again (its offset is then not committed)."""
    summary = ReplaySummary()
    async with open_dead_letters(consumer_config, topic) as reader:
        async for messages in reader.batches(max_records):
            done, stop = await _replay_batch(messages, executor, scopes, summary, echo)
            if executor is not None:
                await reader.commit(done)
            if stop is not None:
                raise stop
    return summary


async def _replay_batch(
    messages: list[Any],
    executor: ActionExecutor | None,
    scopes: Scopes,
    summary: ReplaySummary,
    echo: Echo,
) -> tuple[list[Message], ReplayError | None]:
    """Replay (or list) ``messages`` in order; return those to commit and the error that
    stopped the batch early, if any."""
    replayed: list[tuple[Message, asyncio.Future[ActionOutcome] | None]] = []
    stop: ReplayError | None = None
    for message in messages:
        where = {"partition": message.partition(), "offset": message.offset()}
        try:
            record = DeadLetter.from_json(message.value())
        except InvalidDeadLetterError as exc:  # reported and skipped, never fatal
            summary.unreplayable += 1
            echo(json.dumps({**where, "unreplayable": f"not an action DLQ record: {exc}"}))
            replayed.append((message, None))
            continue
        try:
            action = scopes.action(record)
        except MissingSecretError as exc:
            if executor is None:
                summary.records += 1
                echo(json.dumps({**where, "record": _listed(record), "replayable": str(exc)}))
                continue
            stop = ReplayError(f"partition {message.partition()} offset {message.offset()}: {exc}")
            break
        except UnreplayableError as exc:
            summary.unreplayable += 1
            listed = {"record": _listed(record)} if executor is None else {}
            echo(json.dumps({**where, **listed, "unreplayable": str(exc)}))
            replayed.append((message, None))
            continue
        if executor is None:
            summary.records += 1
            echo(json.dumps({**where, "record": _listed(record), "replayable": True}))
            continue
        executor.add_secret_refs(scopes.secret_refs(record))
        ref = record.ref
        future = executor.submit(ref.event_id, ref.project_id, ref.instance, ref.index, action)
        replayed.append((message, future))
    for message, submitted in replayed:
        summary.records += 1
        if submitted is None:
            continue
        outcome = await submitted
        delivered = outcome.status is OutcomeStatus.DELIVERED
        summary.delivered += delivered
        summary.dead_lettered += not delivered
        where = {"partition": message.partition(), "offset": message.offset()}
        echo(json.dumps({**where, "idempotency_key": outcome.idempotency_key, **_result(outcome)}))
        logger.bind(idempotency_key=outcome.idempotency_key, outcome=str(outcome.status)).info(
            "Action DLQ record replayed"
        )
    return [message for message, _ in replayed], stop


def _listed(record: DeadLetter) -> Any:
    return json.loads(record.to_json())


def _result(outcome: ActionOutcome) -> dict[str, Any]:
    return {"outcome": str(outcome.status), "attempts": outcome.attempts, "error": outcome.error}
