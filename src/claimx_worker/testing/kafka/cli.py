"""``python -m claimx_worker.testing.kafka``: run a test broker until SIGINT or SIGTERM (or, with
``--check``, start it, print its address and stop)."""

from __future__ import annotations

import argparse
import os
import signal
import time
from collections.abc import Sequence
from types import FrameType

from loguru import logger

from claimx_worker.testing.commands import command_parser, start_logging
from claimx_worker.testing.kafka.environment import (
    BOOTSTRAP_SERVERS_ENV,
    DEFAULT_KAFKA_VERSION,
    KAFKA_VERSION_ENV,
)
from claimx_worker.testing.kafka.errors import KafkaBrokerError
from claimx_worker.testing.kafka.local import LocalKafkaBroker, open_kafka_broker
from claimx_worker.testing.kafka.topics import TopicSpec


def _topic_argument(text: str) -> TopicSpec:
    try:
        return TopicSpec.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def argument_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m claimx_worker.testing.kafka``."""
    parser = command_parser(
        "claimx_worker.testing.kafka",
        description="Start a local Apache Kafka broker (KRaft, one combined broker and "
        "controller node) on\nloopback for development and tests, or use the broker in "
        f"${BOOTSTRAP_SERVERS_ENV} when it is\nset. It needs Java 17+ (java on PATH or "
        "JAVA_HOME) and Maven (mvn): the first start\nresolves Apache Kafka's jars from Maven "
        "Central into ~/.cache/claimx-worker/kafka/, later\nstarts reuse them. Data lives in a "
        "temporary folder, removed on stop.\n\n"
        f"Prints {BOOTSTRAP_SERVERS_ENV}=HOST:PORT on stdout once ready, then logs to stderr in "
        "the\nworker's format (LOG_LEVEL, LOG_FORMAT). Runs until Ctrl-C or SIGTERM.",
        epilog="Example:\n\n"
        "  python -m claimx_worker.testing.kafka --port 9092 --create-topic "
        "claimx.enrichment.pending:6",
    )
    parser.add_argument(
        "--port", type=int, help="PLAINTEXT port on 127.0.0.1 (default: a free one)"
    )
    parser.add_argument(
        "--version",
        dest="kafka_version",
        metavar="KAFKA_VERSION",
        help=f"Apache Kafka version (default: ${KAFKA_VERSION_ENV}, else {DEFAULT_KAFKA_VERSION})",
    )
    parser.add_argument(
        "--create-topic",
        action="append",
        default=[],
        type=_topic_argument,
        metavar="NAME[:PARTITIONS]",
        help="create this topic once the broker is ready (repeatable)",
    )
    parser.add_argument(
        "--auto-create-topics", action="store_true", help="let the broker auto-create topics"
    )
    parser.add_argument(
        "--startup-timeout", type=float, default=60.0, help="seconds to wait for the broker"
    )
    parser.add_argument(
        "--check", action="store_true", help="start, print the address, stop and exit 0"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m claimx_worker.testing.kafka``: run a broker until SIGINT/SIGTERM."""
    args = argument_parser().parse_args(argv)
    start_logging()
    if os.environ.get(BOOTSTRAP_SERVERS_ENV, "").strip() and (args.port or args.kafka_version):
        logger.warning(
            "{} is set: using that broker, --port and --version ignored", BOOTSTRAP_SERVERS_ENV
        )
    previous = signal.signal(signal.SIGTERM, _interrupt)
    ready = False
    try:
        with open_kafka_broker(
            version=args.kafka_version,
            port=args.port,
            auto_create_topics=args.auto_create_topics,
            startup_timeout=args.startup_timeout,
        ) as broker:
            ready = True
            for name in broker.create_topics(args.create_topic, exist_ok=True):
                logger.bind(topic=name).info("Topic ready")
            print(f"{BOOTSTRAP_SERVERS_ENV}={broker.bootstrap_servers}", flush=True)
            if args.check:
                return 0
            logger.bind(bootstrap_servers=broker.bootstrap_servers).info(
                "Kafka is running; stop with Ctrl-C or SIGTERM"
            )
            while not isinstance(broker, LocalKafkaBroker) or broker.is_running:
                time.sleep(0.5)
            assert isinstance(broker, LocalKafkaBroker)
            logger.bind(log=broker.log_tail()).error("The Kafka broker exited")
            return 1
    except KafkaBrokerError as exc:
        logger.bind(error=str(exc)).error("No Kafka broker")
        return 1
    except KeyboardInterrupt:
        if not ready:
            return 130
        logger.info("Kafka broker stopped")
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
