"""The consumer's group settings: fast recovery by default, the operator's choice over it."""

from __future__ import annotations

from claimx_worker.kafka.clients import FAST_RECOVERY, consumer_config, incremental_rebalancing
from claimx_worker.kafka.settings import KafkaSettings


def test_a_killed_worker_leaves_its_group_after_6_s_by_default() -> None:
    config = consumer_config(KafkaSettings())
    assert config["session.timeout.ms"] == 6000
    assert config["heartbeat.interval.ms"] == 1000


def test_the_operators_session_timeout_wins() -> None:
    config = consumer_config(KafkaSettings(consumer={"session.timeout.ms": 30000}))
    assert config["session.timeout.ms"] == 30000
    assert config["heartbeat.interval.ms"] == 1000


def test_the_consumer_group_protocol_gets_no_client_side_session_settings() -> None:
    """Under ``group.protocol: consumer`` the broker owns them (librdkafka refuses them)."""
    for settings in (
        KafkaSettings(consumer={"group.protocol": "consumer"}),
        KafkaSettings(common={"group.protocol": "CONSUMER"}),
    ):
        assert not FAST_RECOVERY.keys() & consumer_config(settings).keys()


def test_assignments_are_incremental_under_cooperative_sticky_or_the_consumer_protocol() -> None:
    assert not incremental_rebalancing(consumer_config(KafkaSettings()))
    for chosen in (
        {"partition.assignment.strategy": "cooperative-sticky"},
        {"group.protocol": "consumer"},
    ):
        assert incremental_rebalancing(consumer_config(KafkaSettings(consumer=chosen)))
