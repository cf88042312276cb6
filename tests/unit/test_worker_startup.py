"""Start-up checks of ``claimx-worker run`` that need no broker: librdkafka properties are
checked by creating the clients (connecting nowhere), and a failure names the settings key that
holds the property. (The end-to-end failures are in ``tests/e2e/test_startup.py``.)"""

from __future__ import annotations

from typing import Any

import pytest

from claimx_worker.kafka.settings import KafkaSettings
from claimx_worker.worker import StartupError, check_client_properties


@pytest.mark.parametrize(
    ("properties", "setting", "reason"),
    [
        (
            {"producer": {"linger.mss": 5}},
            "kafka.producer",
            'No such configuration property: "linger.mss"',
        ),
        (
            {"common": {"security.protocl": "SSL"}},
            "kafka.common",
            'No such configuration property: "security.protocl"',
        ),
        (
            {"consumer": {"session.timeout.ms": "soon"}},
            "kafka.consumer",
            'Invalid value for configuration property "session.timeout.ms"',
        ),
    ],
)
def test_a_bad_librdkafka_property_names_the_settings_key_holding_it(
    properties: dict[str, Any], setting: str, reason: str
) -> None:
    with pytest.raises(StartupError) as caught:
        check_client_properties(KafkaSettings(**properties))
    assert caught.value.setting == setting
    assert reason in str(caught.value)


def test_valid_properties_pass() -> None:
    check_client_properties(
        KafkaSettings(
            common={"security.protocol": "PLAINTEXT"},
            consumer={"session.timeout.ms": 6000},
            producer={"linger.ms": 20, "compression.type": "lz4"},
        )
    )
