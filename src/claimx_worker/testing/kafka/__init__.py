"""A real Apache Kafka broker for tests: KRaft mode, one combined broker+controller node.

The jars come from Maven Central, resolved once with ``mvn`` into a cache folder outside the
repository (``${XDG_CACHE_HOME:-~/.cache}/claimx-worker/kafka/<version>/``); later starts reuse
them and are ready in seconds. ``KAFKA_BOOTSTRAP_SERVERS``, when set, names a broker to use
instead of starting one (see :func:`open_kafka_broker`).

Command line: ``python -m claimx_worker.testing.kafka [--check] [--port N] [--version V]
[--create-topic NAME[:PARTITIONS]]`` prints ``KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:PORT`` and runs
until SIGINT or SIGTERM.

Modules: :mod:`.environment` (variables), :mod:`.jars` (Maven resolution), :mod:`.tools` (Java,
running tools), :mod:`.server_config` (the node's configuration files), :mod:`.local` (the broker
process), :mod:`.cluster` (a reachable cluster), :mod:`.topics`, :mod:`.cli`.
"""

from claimx_worker.testing.kafka.cli import main
from claimx_worker.testing.kafka.cluster import KafkaBroker
from claimx_worker.testing.kafka.environment import (
    BOOTSTRAP_SERVERS_ENV,
    DEFAULT_KAFKA_VERSION,
    KAFKA_VERSION_ENV,
    default_cache_root,
    kafka_version,
)
from claimx_worker.testing.kafka.errors import KafkaBrokerError
from claimx_worker.testing.kafka.jars import LOG4J_VERSION, KafkaJars
from claimx_worker.testing.kafka.local import LocalKafkaBroker, open_kafka_broker
from claimx_worker.testing.kafka.topics import TopicFactory, TopicSpec

__all__ = [
    "BOOTSTRAP_SERVERS_ENV",
    "DEFAULT_KAFKA_VERSION",
    "KAFKA_VERSION_ENV",
    "LOG4J_VERSION",
    "KafkaBroker",
    "KafkaBrokerError",
    "KafkaJars",
    "LocalKafkaBroker",
    "TopicFactory",
    "TopicSpec",
    "default_cache_root",
    "kafka_version",
    "main",
    "open_kafka_broker",
]
