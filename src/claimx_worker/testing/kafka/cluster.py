"""A reachable Kafka cluster for tests: client settings, readiness, creating and deleting
topics."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from claimx_worker.kafka.clients import LIBRDKAFKA_LOGGER
from claimx_worker.testing.kafka.errors import KafkaBrokerError
from claimx_worker.testing.kafka.topics import TopicSpec, topic_specs


class KafkaBroker:
    """A reachable Kafka cluster: client settings and topic helpers.

    Use it directly for an existing broker (``KAFKA_BOOTSTRAP_SERVERS``);
    :class:`LocalKafkaBroker` starts one.
    """

    def __init__(self, bootstrap_servers: str | None = None) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._admin: Any = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(bootstrap_servers={self._bootstrap_servers!r})"

    @property
    def bootstrap_servers(self) -> str:
        """``host:port[,host:port...]`` for the ``bootstrap.servers`` client setting."""
        if self._bootstrap_servers is None:
            raise KafkaBrokerError(f"{type(self).__name__} is not started")
        return self._bootstrap_servers

    def client_config(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A confluent-kafka client configuration for this broker, plus ``extra``."""
        return {"bootstrap.servers": self.bootstrap_servers, **(extra or {})}

    def admin(self) -> Any:
        """A shared ``confluent_kafka.admin.AdminClient`` for this broker (librdkafka's own
        lines go through :mod:`logging`, so into the worker's log format when it is set up)."""
        if self._admin is None:
            self._admin = AdminClient(self.client_config({"logger": LIBRDKAFKA_LOGGER}))
        return self._admin

    def _check_alive(self) -> None:
        """Raise :class:`KafkaBrokerError` if the broker is known to be gone."""

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the broker answers metadata requests and lists a live broker."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            self._check_alive()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KafkaBrokerError(
                    f"Kafka at {self.bootstrap_servers} not ready after {timeout:.0f}s: {last}"
                )
            try:
                metadata = self.admin().list_topics(timeout=max(0.2, min(2.0, remaining)))
            except KafkaException as exc:
                last = _error_of(exc)[1]
            else:
                if metadata.brokers:
                    return
                last = "metadata lists no live broker yet"
            time.sleep(0.1)

    def create_topics(
        self,
        topics: str | TopicSpec | Iterable[str | TopicSpec],
        *,
        partitions: int = 1,
        replication_factor: int = 1,
        config: Mapping[str, str] | None = None,
        exist_ok: bool = False,
        timeout: float = 30.0,
    ) -> list[str]:
        """Create topics and wait until every partition has a leader; return their names.

        ``topics`` is a name, a :class:`TopicSpec` or an iterable of either; ``partitions`` and
        ``config`` apply where a spec does not say. An existing topic is an error unless
        ``exist_ok``.
        """
        specs = topic_specs(topics, partitions, config)
        if not specs:
            return []
        new_topics = [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions or partitions,
                replication_factor=replication_factor,
                config=dict(spec.config),
            )
            for spec in specs
        ]
        futures = self.admin().create_topics(
            new_topics, operation_timeout=timeout, request_timeout=timeout
        )
        errors: list[str] = []
        existing: set[str] = set()
        for name, future in futures.items():
            try:
                future.result(timeout=timeout + 5)
            except KafkaException as exc:
                code, reason = _error_of(exc)
                if exist_ok and code == KafkaError.TOPIC_ALREADY_EXISTS:
                    existing.add(name)
                else:
                    errors.append(f"{name}: {reason}")
            except concurrent.futures.TimeoutError:
                errors.append(f"{name}: no answer within {timeout:.0f}s")
        if errors:
            raise KafkaBrokerError("could not create topics: " + "; ".join(errors))
        expected = {
            spec.name: (None if spec.name in existing else spec.partitions) for spec in specs
        }
        self._wait_for_topics(expected, timeout)
        return [spec.name for spec in specs]

    def _wait_for_topics(self, expected: Mapping[str, int | None], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = dict(expected)
        while True:
            try:
                metadata = self.admin().list_topics(timeout=5.0)
            except KafkaException:
                metadata = None
            for name in list(pending) if metadata is not None else []:
                topic = metadata.topics.get(name)
                if topic is None or topic.error is not None:
                    continue
                count = pending[name]
                if count is not None and len(topic.partitions) < count:
                    continue
                if all(p.leader >= 0 and p.error is None for p in topic.partitions.values()):
                    del pending[name]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise KafkaBrokerError(
                    f"topics not ready after {timeout:.0f}s: {', '.join(sorted(pending))}"
                )
            time.sleep(0.05)

    def delete_topics(
        self, names: Iterable[str], *, missing_ok: bool = True, timeout: float = 30.0
    ) -> None:
        """Delete topics and wait for the broker to accept the deletion."""
        names = list(names)
        if not names:
            return
        futures = self.admin().delete_topics(
            names, operation_timeout=timeout, request_timeout=timeout
        )
        errors: list[str] = []
        for name, future in futures.items():
            try:
                future.result(timeout=timeout + 5)
            except KafkaException as exc:
                code, reason = _error_of(exc)
                if not (missing_ok and code == KafkaError.UNKNOWN_TOPIC_OR_PART):
                    errors.append(f"{name}: {reason}")
            except concurrent.futures.TimeoutError:
                errors.append(f"{name}: no answer within {timeout:.0f}s")
        if errors:
            raise KafkaBrokerError("could not delete topics: " + "; ".join(errors))


def _error_of(exc: KafkaException) -> tuple[int | None, str]:
    """The error code (if any) and a readable reason of a confluent-kafka exception."""
    error = exc.args[0] if exc.args else None
    if isinstance(error, KafkaError):
        return error.code(), error.str()
    return None, str(error) if error is not None else repr(exc)
