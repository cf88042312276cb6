"""The Kafka runtime: at-least-once consume → process → produce with key-ordered concurrency.

Build a :class:`Processor` (``decode`` + ``process`` and optional ``on_failed`` / ``on_stop`` /
``start_offsets``)
and run it with :class:`KafkaRuntime` (or :func:`run_worker` for signal handling). The processing
semantics are documented in :mod:`claimx_worker.kafka.context`; retry and DLQ record headers in
:mod:`claimx_worker.kafka.routing`.
"""

from claimx_worker.kafka.clients import admin_config, consumer_config, producer_config
from claimx_worker.kafka.commits import CommittedOffset
from claimx_worker.kafka.context import FailedEvent, ProcessContext, Processor
from claimx_worker.kafka.producer import DeliveryError, DeliveryProducer
from claimx_worker.kafka.run import ProcessorFactory, load_processor_factory, run_worker
from claimx_worker.kafka.runtime import KafkaRuntime, KafkaRuntimeError
from claimx_worker.kafka.topics import MissingTopicsError, ensure_topics

__all__ = [
    "CommittedOffset",
    "DeliveryError",
    "DeliveryProducer",
    "FailedEvent",
    "KafkaRuntime",
    "KafkaRuntimeError",
    "MissingTopicsError",
    "ProcessContext",
    "Processor",
    "ProcessorFactory",
    "admin_config",
    "consumer_config",
    "ensure_topics",
    "load_processor_factory",
    "producer_config",
    "run_worker",
]
