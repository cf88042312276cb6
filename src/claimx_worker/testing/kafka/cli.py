"""``python -m claimx_worker.testing.kafka``: run a test broker until SIGINT or SIGTERM (or, with
``--check``, start it, print its address and stop)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType

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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m claimx_worker.testing.kafka``: run a broker until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m claimx_worker.testing.kafka",
        description="Start a local Apache Kafka broker (KRaft, one node) for development and "
        f"tests, or use ${BOOTSTRAP_SERVERS_ENV} when it is set. Prints "
        f"{BOOTSTRAP_SERVERS_ENV}=HOST:PORT once ready.",
    )
    parser.add_argument("--port", type=int, help="PLAINTEXT port on 127.0.0.1 (default: free)")
    parser.add_argument(
        "--version",
        dest="kafka_version",
        metavar="KAFKA_VERSION",
        help=f"Apache Kafka version (default: ${KAFKA_VERSION_ENV} or {DEFAULT_KAFKA_VERSION})",
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
    parser.add_argument("--startup-timeout", type=float, default=60.0, help="seconds (default: 60)")
    parser.add_argument(
        "--check", action="store_true", help="start, print the address, stop and exit 0"
    )
    args = parser.parse_args(argv)
    if os.environ.get(BOOTSTRAP_SERVERS_ENV, "").strip() and (args.port or args.kafka_version):
        print(
            f"note: {BOOTSTRAP_SERVERS_ENV} is set; using that broker, --port/--version ignored",
            file=sys.stderr,
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
                print(f"topic ready: {name}", file=sys.stderr)
            print(f"{BOOTSTRAP_SERVERS_ENV}={broker.bootstrap_servers}", flush=True)
            if args.check:
                return 0
            print("Kafka is running; stop with Ctrl-C or SIGTERM", file=sys.stderr, flush=True)
            while not isinstance(broker, LocalKafkaBroker) or broker.is_running:
                time.sleep(0.5)
            assert isinstance(broker, LocalKafkaBroker)
            print(f"error: the broker exited\n{broker.log_tail()}", file=sys.stderr)
            return 1
    except KafkaBrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0 if ready else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
