"""A local stack to point a worker at: a Kafka broker (the kit's, or ``KAFKA_BOOTSTRAP_SERVERS``)
with the worker's topics, the ClaimX API simulator and a webhook receiver, on loopback.

:class:`Sandbox` starts and stops them (the demo uses it); :func:`run_sandbox` is
``claimx-worker sandbox up``: it prints the environment for the worker as ``export`` lines on
stdout, logs in the worker's format on stderr (every webhook received among them) and runs
until SIGINT or SIGTERM.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Self

import attrs
from loguru import logger

from claimx_worker.kafka.settings import EnrichmentWorkerSettings
from claimx_worker.testing.claimx_api import SIMULATOR_TOKEN, ClaimXApiSimulator
from claimx_worker.testing.factories import DATA_SEED
from claimx_worker.testing.kafka import KafkaBroker, LocalKafkaBroker, open_kafka_broker
from claimx_worker.testing.webhooks import WebhookReceiver

TASK_TRIGGER_TOPIC = "claimx.task-triggers"
"""The topic the shipped task trigger instance publishes to by default."""
TASK_TRIGGER_HOOK = "/hooks/task-trigger"
DAMAGE_ASSESSMENT_HOOK = "/hooks/damage-assessment"
WEBHOOK_TOKEN = "sandbox-webhook-token"
"""The bearer token the shipped task trigger sends with its webhooks (a sample value)."""


def worker_topics(worker: EnrichmentWorkerSettings) -> list[str]:
    """Every topic the worker consumes or writes: each named in its topic settings, and one
    retry topic per retry delay."""
    named = attrs.asdict(worker.topics)
    del named["retry_prefix"]
    return [*named.values(), *worker.retry_topics()]


class Sandbox:
    """The broker (with ``topics`` created, ``partitions`` each), the API simulator (data of
    ``seed``) and the webhook receiver; a context manager. Ports 0 (and ``kafka_port=None``)
    pick free ones. ``environ`` decides whether a broker is started (see
    :func:`~claimx_worker.testing.kafka.open_kafka_broker`)."""

    def __init__(
        self,
        *,
        topics: Sequence[str] = (),
        partitions: int = 6,
        kafka_port: int | None = None,
        api_port: int = 0,
        webhook_port: int = 0,
        seed: int = DATA_SEED,
        log_webhooks: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.topics = list(dict.fromkeys(topics))
        """Topics created once the broker is ready."""
        self._partitions = partitions
        self._kafka_port = kafka_port
        self._environ = environ
        self.api = ClaimXApiSimulator(seed=seed, port=api_port)
        self.receiver = WebhookReceiver(port=webhook_port, log_requests=log_webhooks)
        self._broker: KafkaBroker | None = None
        self._stack = contextlib.ExitStack()

    @property
    def broker(self) -> KafkaBroker:
        """The broker (once entered)."""
        if self._broker is None:
            raise RuntimeError("the sandbox is not running")
        return self._broker

    def __enter__(self) -> Self:
        with contextlib.ExitStack() as stack:
            self._broker = stack.enter_context(
                open_kafka_broker(port=self._kafka_port, environ=self._environ)
            )
            self._broker.create_topics(self.topics, partitions=self._partitions, exist_ok=True)
            stack.enter_context(self.api)
            stack.enter_context(self.receiver)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *_: object) -> None:
        self._stack.close()
        self._broker = None

    def environment(self) -> dict[str, str]:
        """The variables that point a worker and the shipped task trigger at this stack."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            "CLAIMX_API_URL": self.api.base_url,
            "CLAIMX_API_TOKEN": SIMULATOR_TOKEN,
            "TASK_TRIGGER_WEBHOOK_URL": self.receiver.url(TASK_TRIGGER_HOOK),
            "DAMAGE_ASSESSMENT_WEBHOOK_URL": self.receiver.url(DAMAGE_ASSESSMENT_HOOK),
            "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        }

    def is_running(self) -> bool:
        """False once a broker this sandbox started has exited."""
        return not isinstance(self._broker, LocalKafkaBroker) or self._broker.is_running


def run_sandbox(sandbox: Sandbox, *, echo: Callable[[str], None]) -> int:
    """``sandbox up``: start ``sandbox``, ``echo`` an ``export NAME=value`` line per variable,
    run until SIGINT or SIGTERM; 0 after a clean stop, 1 when the broker exited early.
    Raises :class:`~claimx_worker.testing.kafka.KafkaBrokerError` when no broker can be had."""
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    logger.info("Starting the sandbox: Kafka broker, ClaimX API simulator, webhook receiver")
    try:
        with sandbox:
            environment = sandbox.environment()
            logger.bind(
                bootstrap_servers=environment["KAFKA_BOOTSTRAP_SERVERS"],
                topics=",".join(sandbox.topics),
            ).info("Kafka broker ready")
            logger.bind(url=sandbox.api.base_url).info("ClaimX API simulator listening")
            logger.bind(url=sandbox.receiver.base_url).info("Webhook receiver listening")
            for name, value in environment.items():
                echo(f"export {name}={shlex.quote(value)}")
            logger.info("Sandbox running; stop with Ctrl-C or SIGTERM")
            while not stopping.wait(0.5):
                if not sandbox.is_running():
                    logger.error("The Kafka broker exited; stopping the sandbox")
                    return 1
        logger.info("Sandbox stopped")
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
