"""The action executor: runs plugin actions off the consumer path and reports each outcome.

``submit`` returns at once with a future. Webhooks and Kafka publishes are delivered in the
background with retries; when delivery gives up the action is written to the action DLQ, and
either way the future resolves to an :class:`ActionOutcome`. With a ``park_topic``, a webhook
still undelivered ``park_after`` seconds after submission is parked there instead (outcome
``parked``; see :mod:`.parking`), and :meth:`ActionExecutor.redeliver` later finishes it. It
raises only when even the DLQ (or park) write fails (:class:`DeadLetterWriteError`): then the
event must not be committed. ``Log`` and ``Metric`` run inside ``submit``; ``Filter`` is the
pipeline's business and is skipped.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import attrs
from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker.actions.announcement import ActionAnnouncer
from claimx_worker.actions.connections import ConnectionDelivery
from claimx_worker.actions.dead_letter import (
    PUBLISH_TO_TOPIC,
    WEBHOOK,
    DeadLetter,
    dead_letter,
)
from claimx_worker.actions.encoding import InvalidActionError
from claimx_worker.actions.identity import KAFKA_IDEMPOTENCY_HEADER, ActionRef
from claimx_worker.actions.metric_counters import MetricActionCounters, MetricActionError
from claimx_worker.actions.metrics import ExecutorMetrics
from claimx_worker.actions.publish import (
    Produce,
    TopicPublisher,
    build_message,
)
from claimx_worker.actions.retry import (
    Attempt,
    DeliveryReport,
    Failure,
    GiveUp,
    RetryPolicy,
    deliver,
)
from claimx_worker.actions.secrets import SecretScrubber
from claimx_worker.actions.settings import DEFAULT_DLQ_TOPIC, ActionSettings
from claimx_worker.actions.webhook import WebhookSender, build_request
from claimx_worker.errors import ClaimXWorkerError
from claimx_worker.http.breaker import CircuitState
from claimx_worker.http.connections import Connection
from claimx_worker.http.exchange import Exchange
from claimx_worker.model import Action, ChangeRows, Filter, Log, Metric, PublishToTopic, Webhook
from claimx_worker.observability.logs import write_line

if TYPE_CHECKING:
    from loguru import Logger

_IMMEDIATE_KINDS: dict[type, str] = {Log: "log", Metric: "metric"}


class OutcomeStatus(enum.StrEnum):
    """How an action ended."""

    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"
    FAILED = "failed"
    """A ``Log`` or ``Metric`` that could not be carried out (logged and counted, not retried)."""
    PARKED = "parked"
    """A webhook written to the action retry topic, to be redelivered when its endpoint
    recovers (its event no longer waits for it)."""
    SKIPPED = "skipped"
    """A ``Filter``: nothing to execute."""


@attrs.frozen(kw_only=True)
class ActionOutcome:
    """The end of one action."""

    status: OutcomeStatus
    action_type: str
    idempotency_key: str
    attempts: int = 0
    error: str | None = None


class DeadLetterWriteError(ClaimXWorkerError, RuntimeError):
    """An action could neither be delivered nor written to the action DLQ."""


def _as_configured(policy: RetryPolicy) -> RetryPolicy:
    """The retry policy of a delivery in line, with no parking: as configured."""
    return policy


class ActionExecutor:
    """Delivers actions; see the module docstring. Use one per worker, on the worker's loop.

    ``produce`` is the runtime's acknowledged produce function, ``dlq_topic`` is where exhausted
    actions go (the worker's ``topics.actions_dlq``), ``park_topic`` where webhooks are parked
    (the worker's ``topics.actions_retry``; ``None``: never parked), ``secret_refs`` maps secret
    values to the environment variables they came from (for DLQ records), ``rng`` drives the
    backoff jitter, ``connections`` are the named connections webhooks may go through.
    """

    def __init__(
        self,
        settings: ActionSettings,
        *,
        client: Exchange,
        produce: Produce,
        registry: CollectorRegistry,
        dlq_topic: str = DEFAULT_DLQ_TOPIC,
        park_topic: str | None = None,
        secret_refs: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
        connections: Mapping[str, Connection] | None = None,
    ) -> None:
        self._settings = settings
        self._dlq_topic = dlq_topic
        self._park_topic = park_topic if settings.park_after < settings.max_age else None
        self._policy = settings.retry_policy
        self._produce = produce
        self._scrubber = SecretScrubber(secret_refs or {})
        self._rng = rng or random.Random()
        self._metrics = ExecutorMetrics(registry)
        self._metric_counters = MetricActionCounters(registry)
        self._webhooks = WebhookSender(
            client,
            settings,
            on_state=self._circuit_changed,
            on_attempt=self._metrics.attempts.labels(WEBHOOK).inc,
        )
        self._connections = ConnectionDelivery(connections or {}, settings, client, self._webhooks)
        self._publisher = TopicPublisher(
            produce,
            max_in_flight=settings.topic_max_in_flight,
            on_attempt=self._metrics.attempts.labels(PUBLISH_TO_TOPIC).inc,
        )
        self._tasks: set[asyncio.Task[ActionOutcome]] = set()
        self._announcer = ActionAnnouncer(lambda text: self._scrubber.text(text, set()))

    def __repr__(self) -> str:
        return f"ActionExecutor(in_flight={len(self._tasks)}, dlq_topic={self.dlq_topic!r})"

    @property
    def dlq_topic(self) -> str:
        """Where exhausted actions go."""
        return self._dlq_topic

    @property
    def in_flight(self) -> int:
        """Actions submitted and not finished."""
        return len(self._tasks)

    def submit(
        self, event_id: str, project_id: str, instance: str, index: int, action: Action
    ) -> asyncio.Future[ActionOutcome]:
        """Start ``action`` (the ``index``-th of ``instance`` for the event) and return at once.

        The future resolves to the outcome once the action is delivered or dead-lettered; it
        raises :class:`DeadLetterWriteError` only when the DLQ write failed too.
        """
        ref = ActionRef(event_id=event_id, project_id=project_id, instance=instance, index=index)
        if isinstance(action, Webhook | PublishToTopic):
            self._announcer.announce(ref, action)
            task = asyncio.get_running_loop().create_task(
                self._deliver(ref, action, time.monotonic()), name=f"action-{ref.key}"
            )
            self._tasks.add(task)
            self._metrics.in_flight.inc()
            task.add_done_callback(self._finished)
            return task
        future: asyncio.Future[ActionOutcome] = asyncio.get_running_loop().create_future()
        future.set_result(self._run_now(ref, action))
        return future

    def use_connections(self, connections: Mapping[str, Connection]) -> None:
        """Send webhooks through ``connections`` from now on (after a reload)."""
        self._connections.use(connections)

    def add_secret_refs(self, secret_refs: Mapping[str, str]) -> None:
        """Register more secret values (value -> environment variable) to keep out of DLQ
        records, e.g. from plugin configs loaded after the executor was made."""
        self._scrubber.add(secret_refs)
        self._announcer.forget()

    async def drain(self, grace: float) -> int:
        """Wait up to ``grace`` seconds for the actions in flight; return how many remain."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        return len(self._tasks)

    async def aclose(self) -> None:
        """Cancel the actions still in flight (their events stay uncommitted) and wait."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- background delivery ------------------------------------------------------------------

    async def redeliver(self, record: DeadLetter, action: Webhook) -> ActionOutcome:
        """Deliver a parked webhook (``record`` as parked, ``action`` rebuilt from it) with its
        idempotency key: waiting while its endpoint's circuit is open, retrying until the
        action's maximum age (from its first attempt, or its parking), then dead-lettering it.
        Raises :class:`DeadLetterWriteError` when the DLQ write failed."""
        ref = record.ref
        since = record.first_attempt_at or record.dead_lettered_at
        if since.tzinfo is None:  # the record is untrusted: a time without zone reads as UTC
            since = since.replace(tzinfo=UTC)
        age = max(0.0, (datetime.now(UTC) - since).total_seconds())
        self._metrics.redelivering.inc()
        try:
            report = await self._attempt_all(
                ref,
                action,
                WEBHOOK,
                time.monotonic() - age,
                self._settings.parked_policy,
                attempts=record.attempts,
                first=record.first_attempt_at,
            )
        finally:
            self._metrics.redelivering.dec()
        if report.delivered:
            log = _action_log(ref, WEBHOOK).bind(attempts=report.attempts)
            log.info("Parked webhook action delivered")
            return self._outcome(WEBHOOK, ref, OutcomeStatus.DELIVERED, report.attempts)
        dead = await self._dead_letter(ref, action, WEBHOOK, report)
        return self._outcome(WEBHOOK, ref, OutcomeStatus.DEAD_LETTERED, report.attempts, dead.error)

    async def _deliver(
        self, ref: ActionRef, action: Webhook | PublishToTopic, submitted: float
    ) -> ActionOutcome:
        kind = WEBHOOK if isinstance(action, Webhook) else PUBLISH_TO_TOPIC
        parking = self._park_topic is not None and isinstance(action, Webhook)
        shape = self._settings.parking_policy if parking else _as_configured
        try:
            report = await self._attempt_all(ref, action, kind, submitted, shape)
            if report.delivered:
                return self._outcome(kind, ref, OutcomeStatus.DELIVERED, report.attempts)
            if parking and isinstance(action, Webhook) and report.give_up is GiveUp.MAX_AGE:
                await self._park(ref, action, kind, report)
                return self._outcome(kind, ref, OutcomeStatus.PARKED, report.attempts, report.error)
            record = await self._dead_letter(ref, action, kind, report)
            return self._outcome(
                kind, ref, OutcomeStatus.DEAD_LETTERED, report.attempts, record.error
            )
        finally:
            self._metrics.duration_by(kind).observe(time.monotonic() - submitted)

    async def _attempt_all(
        self,
        ref: ActionRef,
        action: Webhook | PublishToTopic,
        kind: str,
        submitted: float,
        shape: Callable[[RetryPolicy], RetryPolicy],
        *,
        attempts: int = 0,
        first: datetime | None = None,
    ) -> DeliveryReport:
        """Attempt ``action`` under its retry policy (the connection's, else the actions'),
        as changed by ``shape`` for the delivery phase (in line, parking, parked)."""
        attempt: Attempt
        policy: RetryPolicy = self._policy
        try:
            if isinstance(action, Webhook) and action.connection is not None:
                attempt, policy = self._connections.plan(action, ref.key)
            elif isinstance(action, Webhook):
                request = build_request(action, ref.key, self._settings)

                async def attempt(deadline: float) -> Failure | None:
                    return await self._webhooks.attempt(request, deadline)
            else:
                message = build_message(action, ref)

                async def attempt(deadline: float) -> Failure | None:
                    return await self._publisher.attempt(message, deadline)

            return await deliver(
                attempt,
                shape(policy),
                submitted=submitted,
                rng=self._rng,
                on_retry=lambda failure, attempts, delay: self._retrying(
                    ref, kind, failure, attempts, delay
                ),
                attempts=attempts,
                first=first,
            )
        except InvalidActionError as exc:
            error = str(exc)
        except Exception as exc:  # a bug must not lose the action: dead-letter it
            logger.opt(exception=exc).bind(
                instance=ref.instance, event_id=ref.event_id, action_type=kind
            ).error("Action delivery crashed")
            error = f"internal error: {type(exc).__name__}"
        return DeliveryReport(delivered=False, attempts=0, give_up=GiveUp.PERMANENT, error=error)

    def _retrying(
        self, ref: ActionRef, kind: str, failure: Failure, attempts: int, delay: float
    ) -> None:
        self._metrics.actions_by(kind, "retried").inc()
        _action_log(ref, kind).bind(
            attempts=attempts,
            status=failure.status,
            error=self._scrubber.text(failure.error, set()),
            delay=round(delay, 3),
        ).debug("Action delivery failed; retrying")

    async def _park(
        self, ref: ActionRef, action: Webhook, kind: str, report: DeliveryReport
    ) -> None:
        """Write ``action`` to the action retry topic, keyed by its endpoint (so one endpoint's
        parked actions stay in order)."""
        assert self._park_topic is not None
        parked = attrs.evolve(report, give_up=GiveUp.PARKED)
        record = dead_letter(ref, action, parked, self._scrubber, self._settings)
        endpoint = self._connections.endpoint(action)
        await self._write(self._park_topic, record, endpoint.encode(), ref)
        _action_log(ref, kind).bind(
            endpoint=endpoint,
            attempts=report.attempts,
            error=record.error,
            topic=self._park_topic,
        ).info("Webhook action parked until its endpoint recovers")

    async def _write(self, topic: str, record: DeadLetter, key: bytes, ref: ActionRef) -> None:
        headers = [(KAFKA_IDEMPOTENCY_HEADER, ref.key.encode())]
        try:
            await self._produce(topic, record.to_json(), key, headers)
        except Exception as exc:
            raise DeadLetterWriteError(
                f"action {ref.key} of event {ref.event_id} could not be delivered nor written "
                f"to {topic}: {type(exc).__name__}"
            ) from exc

    async def _dead_letter(
        self,
        ref: ActionRef,
        action: Webhook | PublishToTopic,
        kind: str,
        report: DeliveryReport,
    ) -> DeadLetter:
        record = dead_letter(ref, action, report, self._scrubber, self._settings)
        await self._write(self.dlq_topic, record, ref.project_id.encode(), ref)
        _action_log(ref, kind).bind(
            attempts=report.attempts,
            status=report.status,
            give_up=str(report.give_up),
            error=record.error,
            dlq_topic=self.dlq_topic,
        ).warning("Action dead-lettered")
        return record

    def _finished(self, task: asyncio.Task[ActionOutcome]) -> None:
        self._tasks.discard(task)
        self._metrics.in_flight.dec()

    def _circuit_changed(self, endpoint: str, state: CircuitState) -> None:
        self._metrics.circuit_changed(endpoint, state)
        logger.bind(endpoint=endpoint, state=str(state)).warning("Webhook circuit changed")

    # --- immediate actions --------------------------------------------------------------------

    def _run_now(self, ref: ActionRef, action: Action) -> ActionOutcome:
        if isinstance(action, Filter | ChangeRows):  # not run: the pipeline acts on them
            kind = "filter" if isinstance(action, Filter) else "change_rows"
            return ActionOutcome(
                status=OutcomeStatus.SKIPPED, action_type=kind, idempotency_key=ref.key
            )
        kind = _IMMEDIATE_KINDS.get(type(action), "unknown")
        try:
            if isinstance(action, Log):
                fields = {**action.fields, "instance": ref.instance, "event_id": ref.event_id}
                write_line(action.level, action.message, **fields)
            elif isinstance(action, Metric):
                self._metric_counters.count(action, ref.instance)
            else:
                raise TypeError(f"not an action: {type(action).__name__}")
        except (MetricActionError, TypeError, ValueError) as exc:
            logger.bind(instance=ref.instance, event_id=ref.event_id, error=str(exc)).warning(
                "Action failed"
            )
            return self._outcome(kind, ref, OutcomeStatus.FAILED, 0, str(exc))
        return self._outcome(kind, ref, OutcomeStatus.DELIVERED, 0)

    def _outcome(
        self,
        kind: str,
        ref: ActionRef,
        status: OutcomeStatus,
        attempts: int,
        error: str | None = None,
    ) -> ActionOutcome:
        self._metrics.actions_by(kind, str(status)).inc()
        return ActionOutcome(
            status=status,
            action_type=kind,
            idempotency_key=ref.key,
            attempts=attempts,
            error=error,
        )


def _action_log(ref: ActionRef, kind: str) -> Logger:
    """The logger bound to one action: its instance, event, type and idempotency key."""
    return logger.bind(
        instance=ref.instance, event_id=ref.event_id, action_type=kind, idempotency_key=ref.key
    )
