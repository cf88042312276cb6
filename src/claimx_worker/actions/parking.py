"""Parked webhook actions: undeliverable for now, off their event's commit path, durably.

A webhook still undelivered ``actions.park_after`` seconds after its submission (its endpoint
refuses connections, fails, or its circuit is open) is *parked* by the
:class:`~claimx_worker.actions.executor.ActionExecutor`: written to the action retry topic
(``topics.actions_retry``) as an action DLQ record (:class:`~.dead_letter.DeadLetter`, secrets
replaced by their ``${VAR}`` references, ``give_up: parked``), keyed by its endpoint. Once the
broker acknowledges it, the action no longer holds its event, which may commit.

:class:`ParkedActions` consumes that topic in a second Kafka runtime of the worker (consumer group
``<consumer_group>.parked-actions``). The topic is keyed by endpoint and the runtime runs one
record per key at a time in offset order, so an endpoint's parked actions are redelivered one at a
time in the order they were parked, each with its idempotency key, while other endpoints' go on.
A redelivery waits while its endpoint's circuit is open (the waiting head of the queue becomes the
probe) and retries until the action's maximum age, then goes to the action DLQ. A record is
committed once delivered or dead-lettered; a worker stopped or killed meanwhile leaves it to the
next one.

A parked record arrives over Kafka, so it is trusted exactly as ``dlq replay`` trusts an action
DLQ record (:class:`~.replay.Scopes`): only a destination and variables that the current
configuration of its instance names. A record that is not one, or may not be redelivered, goes
to the action DLQ as it is, with the reason in its ``claimx-error`` header.
"""

from __future__ import annotations

import asyncio
import contextlib

import attrs
from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker.actions.dead_letter import DeadLetter, InvalidDeadLetterError, UnreplayableError
from claimx_worker.actions.executor import ActionExecutor, DeadLetterWriteError
from claimx_worker.actions.replay import Scopes
from claimx_worker.actions.secrets import MissingSecretError
from claimx_worker.errors import InvalidEventError, PermanentError, TransientError
from claimx_worker.kafka import KafkaRuntime, ProcessContext, Processor
from claimx_worker.kafka.settings import KafkaSettings
from claimx_worker.model import Webhook
from claimx_worker.observability.redaction import Redactor

GROUP_SUFFIX = ".parked-actions"
"""The redelivery's consumer group is the worker's group with this suffix."""
MAX_DRAIN_SECONDS = 5.0
"""At shutdown, redeliveries get at most this long (they wait for their endpoints): what is not
delivered by then stays uncommitted and is redelivered after the restart, with the same keys."""


def parked_runtime_settings(kafka: KafkaSettings) -> KafkaSettings:
    """The Kafka settings of the redelivery runtime: the action retry topic as its input, no
    retry topics, the action DLQ as its DLQ, its own consumer group, a short drain."""
    worker = kafka.worker
    topics = worker.topics
    processing = worker.processing
    parked = attrs.evolve(
        worker,
        consumer_group=worker.consumer_group + GROUP_SUFFIX,
        topics=attrs.evolve(topics, pending=topics.actions_retry, dlq=topics.actions_dlq),
        processing=attrs.evolve(
            processing,
            retry_delays=(),
            drain_deadline_seconds=min(processing.drain_deadline_seconds, MAX_DRAIN_SECONDS),
        ),
    )
    return attrs.evolve(kafka, claimx=attrs.evolve(kafka.claimx, enrichment_worker=parked))


def decode_parked_record(value: bytes) -> DeadLetter:
    """A parked record from its Kafka value; raises :class:`InvalidEventError` for anything
    else (the value is untrusted)."""
    try:
        return DeadLetter.from_json(value)
    except InvalidDeadLetterError as exc:
        raise InvalidEventError(f"not a parked action record: {exc}") from None


class ParkedActions:
    """Redelivers the parked webhooks of the action retry topic through ``executor`` (the
    worker's: its endpoints' circuits are shared with fresh deliveries), within ``scopes``.

    :meth:`start` checks its topics and starts consuming in the background; :meth:`stop` drains
    (up to :data:`MAX_DRAIN_SECONDS`), commits and returns.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        executor: ActionExecutor,
        scopes: Scopes,
        *,
        redactor: Redactor,
    ) -> None:
        self._kafka = parked_runtime_settings(kafka)
        self._executor = executor
        self._scopes = scopes
        processor = Processor(decode=decode_parked_record, process=self._redeliver)
        # The runtime's own metrics (consumed, in flight, ...) would clash with the main
        # runtime's names: they stay private; claimx_parked_actions_redelivering tells the rest.
        self._runtime = KafkaRuntime(
            self._kafka, processor, registry=CollectorRegistry(), redactor=redactor
        )
        self._task: asyncio.Task[None] | None = None

    def use_scopes(self, scopes: Scopes) -> None:
        """Redeliver within ``scopes`` from now on (after a reload)."""
        self._scopes = scopes

    async def start(self) -> None:
        """Check (or create) every topic the redelivery uses (the action retry topic and the
        worker's topics it writes to), then consume in the background; raises
        :class:`~claimx_worker.kafka.MissingTopicsError` when one is missing, before anything
        runs."""
        await self._runtime.check_topics()
        self._task = asyncio.create_task(self._run(), name="parked-actions")

    async def stop(self) -> None:
        """Stop consuming: drain, commit, close."""
        if self._task is None:
            return
        self._runtime.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        try:
            await self._runtime.run()
        except Exception:
            logger.exception("Parked action redelivery stopped; parked actions wait for a restart")

    async def _redeliver(self, record: DeadLetter, ctx: ProcessContext) -> None:
        await asyncio.sleep(0)  # run in the event's own task (see ProcessContext)
        try:
            action = self._scopes.action(record)
        except (UnreplayableError, MissingSecretError) as exc:
            raise PermanentError(f"parked action cannot be redelivered: {exc}") from None
        if not isinstance(action, Webhook):
            raise PermanentError("parked action cannot be redelivered: not a webhook")
        self._executor.add_secret_refs(self._scopes.secret_refs(record))
        try:
            await self._executor.redeliver(record, action)
        except DeadLetterWriteError as exc:
            raise TransientError(str(exc)) from None
