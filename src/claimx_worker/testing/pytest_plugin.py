"""The claimx-worker pytest plugin: fixtures for our own tests and for plugin authors.

A test suite enables it with ``pytest_plugins = ["claimx_worker.testing"]`` in its
``conftest.py`` (the package names this module in its own ``pytest_plugins``); installing
``claimx-worker`` adds no fixture to test suites that do not ask for them.

pytest collects every fixture found in this module's namespace, so fixtures written in other
``claimx_worker.testing`` modules are added by importing them here and listing them in
``__all__``::

    from claimx_worker.testing.claimx_api_fixtures import claimx_api  # re-exported fixture

Stage harness fixture (:mod:`claimx_worker.testing.harness`):

- ``stage_harness``: ``factory(config, **options) -> StageHarness`` (options as
  :meth:`~claimx_worker.testing.harness.StageHarness.from_config`); closed after the test.
- ``contract_harness`` (class): the harness a :class:`~claimx_worker.testing.PluginContract`
  subclass's event tests share: non-strict, refusing I/O inside hooks.

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
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from claimx_worker.testing.claimx_api_fixtures import claimx_api, claimx_api_server
from claimx_worker.testing.contract import PluginContract
from claimx_worker.testing.harness import StageHarness
from claimx_worker.testing.kafka import (
    KafkaBroker,
    KafkaBrokerError,
    TopicFactory,
    open_kafka_broker,
)
from claimx_worker.testing.staging import ConfigSource
from claimx_worker.testing.webhook_fixtures import webhook_receiver

__all__ = [
    "claimx_api",
    "claimx_api_server",
    "contract_harness",
    "kafka_bootstrap_servers",
    "kafka_broker",
    "kafka_topic",
    "kafka_topic_factory",
    "pytest_configure",
    "stage_harness",
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


# --------------------------------------------------------------------------- stage harness


@pytest.fixture
def stage_harness() -> Iterator[Callable[..., StageHarness]]:
    """``stage_harness(config, **options)``: a started :class:`StageHarness`, closed (with
    ``on_unload``) after the test, the last opened first."""
    with contextlib.ExitStack() as stack:

        def open_harness(config: ConfigSource, **options: Any) -> StageHarness:
            return stack.enter_context(StageHarness.from_config(config, **options))

        yield open_harness


@pytest.fixture(scope="class")
def contract_harness(request: pytest.FixtureRequest) -> Iterator[StageHarness]:
    """The harness of a :class:`PluginContract` subclass, shared by its event tests."""
    contract = request.cls
    if contract is None or not issubclass(contract, PluginContract):
        pytest.fail("contract_harness is for PluginContract subclasses", pytrace=False)
    harness = contract.open_harness(strict=False, block_io=True)
    try:
        yield harness
    finally:
        harness.close()
