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
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from confluent_kafka import OFFSET_INVALID, KafkaException, TopicPartition
from confluent_kafka.aio import AIOConsumer
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
from claimx_worker.errors import ClaimXWorkerError
from claimx_worker.model import PublishToTopic, Webhook

_BATCH = 100
_TIMEOUT = 10.0


class ReplayError(ClaimXWorkerError):
    """The replay cannot go on (missing topic or variable); what was replayed is committed."""


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
    ``echo`` gets one JSON line per record. Raises :class:`ReplayError`, or
    :class:`~claimx_worker.actions.executor.DeadLetterWriteError` when a record could neither be
    delivered nor dead-lettered again (its offset is then not committed)."""
    config = {**consumer_config, "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    consumer = AIOConsumer(config, max_workers=2)
    summary = ReplaySummary()
    try:
        pending = await _assign(consumer, topic)
        while pending and (max_records is None or summary.records < max_records):
            wanted = _BATCH if max_records is None else min(_BATCH, max_records - summary.records)
            batch = await consumer.consume(num_messages=wanted, timeout=0.5)
            for message in batch:
                if message.error() is not None:
                    raise ReplayError(f"reading {topic} failed: {message.error()}")
            messages = [m for m in batch if m.offset() < pending.get(m.partition(), -1)]
            done, stop = await _replay_batch(messages, executor, scopes, summary, echo)
            if executor is not None and done:
                await consumer.commit(offsets=done, asynchronous=False)
            if stop is not None:
                raise stop
            positions = await consumer.position([TopicPartition(topic, p) for p in pending])
            finished = [tp for tp in positions if tp.offset >= pending[tp.partition]]
            for position in finished:
                del pending[position.partition]
            if finished:
                await consumer.pause(finished)
    finally:
        await consumer.close()
    return summary


async def _assign(consumer: AIOConsumer, topic: str) -> dict[int, int]:
    """Assign every partition at its committed offset (or its start); return partition -> end
    offset for those with records left."""
    metadata = await consumer.list_topics(topic, timeout=_TIMEOUT)
    info = metadata.topics.get(topic)
    if info is None or info.error is not None or not info.partitions:
        raise ReplayError(f"topic {topic} does not exist")
    partitions = [TopicPartition(topic, p) for p in sorted(info.partitions)]
    committed = await _committed(consumer, partitions)
    assignment: list[TopicPartition] = []
    pending: dict[int, int] = {}
    for position in committed:
        low, high = await consumer.get_watermark_offsets(position, timeout=_TIMEOUT)
        start = low if position.offset == OFFSET_INVALID else max(position.offset, low)
        assignment.append(TopicPartition(topic, position.partition, start))
        if start < high:
            pending[position.partition] = high
    await consumer.assign(assignment)
    return pending


async def _committed(consumer: AIOConsumer, partitions: list[TopicPartition]) -> Any:
    """The group's committed offsets, retrying while the group coordinator gets ready."""
    deadline = time.monotonic() + _TIMEOUT
    while True:
        try:
            return await consumer.committed(partitions, timeout=_TIMEOUT)
        except KafkaException as exc:
            if time.monotonic() > deadline:  # e.g. NOT_COORDINATOR while a new broker starts
                raise ReplayError(f"cannot read the replay group's offsets: {exc}") from None
            await asyncio.sleep(0.2)


async def _replay_batch(
    messages: list[Any],
    executor: ActionExecutor | None,
    scopes: Scopes,
    summary: ReplaySummary,
    echo: Echo,
) -> tuple[list[TopicPartition], ReplayError | None]:
    """Replay (or list) ``messages`` in order; return the offsets to commit and the error that
    stopped the batch early, if any."""
    replayed: list[tuple[Any, asyncio.Future[ActionOutcome] | None]] = []
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
    ends: dict[tuple[str, int], int] = {}  # per partition, messages come in offset order
    for message, _ in replayed:
        ends[(message.topic(), message.partition())] = message.offset() + 1
    return [TopicPartition(t, p, o) for (t, p), o in ends.items()], stop


def _listed(record: DeadLetter) -> Any:
    return json.loads(record.to_json())


def _result(outcome: ActionOutcome) -> dict[str, Any]:
    return {"outcome": str(outcome.status), "attempts": outcome.attempts, "error": outcome.error}
