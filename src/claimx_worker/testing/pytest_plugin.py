"""The claimx-worker pytest plugin: fixtures for our own tests and for plugin authors.

Registered through the ``pytest11`` entry point ``claimx_worker``, so installing
``claimx-worker`` makes these fixtures available in any test suite.

pytest collects every fixture found in this module's namespace, so fixtures written in other
``claimx_worker.testing`` modules are added by importing them here and listing them in
``__all__``::

    from claimx_worker.testing.simulator import claimx_api  # re-exported fixture

Kafka fixtures (``kafka`` marker; a broker from ``KAFKA_BOOTSTRAP_SERVERS`` or started locally):

- ``kafka_broker`` (session): a ready :class:`~claimx_worker.testing.kafka.KafkaBroker`.
- ``kafka_bootstrap_servers`` (session): its ``bootstrap.servers`` string.
- ``kafka_topic_factory``: ``factory(partitions=1, *, name=None, config=None) -> str`` creates
  uniquely named topics, deleted after the test.
- ``kafka_topic``: one fresh single-partition topic name.

When no broker can be had, the fixtures fail the test with the reason; they never skip.

ClaimX API simulator fixtures (:mod:`claimx_worker.testing.claimx_api`):

- ``claimx_api``: the session's simulator with default knobs and zeroed call counters.
- ``claimx_api_server`` (session): the simulator itself, not reset between tests.

Webhook receiver fixture (:mod:`claimx_worker.testing.webhooks`):

- ``webhook_receiver``: a programmable webhook endpoint on loopback, on its own thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from claimx_worker.testing.claimx_api_fixtures import claimx_api, claimx_api_server
from claimx_worker.testing.kafka import (
    KafkaBroker,
    KafkaBrokerError,
    TopicFactory,
    open_kafka_broker,
)
from claimx_worker.testing.webhook_fixtures import webhook_receiver

__all__ = [
    "claimx_api",
    "claimx_api_server",
    "kafka_bootstrap_servers",
    "kafka_broker",
    "kafka_topic",
    "kafka_topic_factory",
    "pytest_configure",
    "webhook_receiver",
]


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers these fixtures go with (for ``--strict-markers`` users)."""
    config.addinivalue_line(
        "markers",
        "kafka: needs a real Kafka broker (started by the harness, or KAFKA_BOOTSTRAP_SERVERS)",
    )


# --------------------------------------------------------------------------- Kafka


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """A ready Kafka broker for the whole session; fails (never skips) when none can be had."""
    with contextlib.ExitStack() as stack:
        try:
            broker = stack.enter_context(open_kafka_broker())
        except KafkaBrokerError as exc:
            pytest.fail(f"Kafka broker unavailable: {exc}", pytrace=False)
        yield broker


@pytest.fixture(scope="session")
def kafka_bootstrap_servers(kafka_broker: KafkaBroker) -> str:
    """``bootstrap.servers`` of the session's broker."""
    return kafka_broker.bootstrap_servers


@pytest.fixture
def kafka_topic_factory(
    kafka_broker: KafkaBroker, request: pytest.FixtureRequest
) -> Iterator[TopicFactory]:
    """Create uniquely named topics for one test; they are deleted afterwards."""
    factory = TopicFactory(kafka_broker, prefix=f"test.{request.node.name}")
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture
def kafka_topic(kafka_topic_factory: TopicFactory) -> str:
    """A fresh single-partition topic for one test."""
    return kafka_topic_factory()
