"""The README's main job: the demo runs the real worker end to end and finds what it expects."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from claimx_worker.testing.kafka import KafkaBroker

pytestmark = pytest.mark.kafka


def test_demo_runs_the_worker_end_to_end(kafka_broker: KafkaBroker) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers}

    done = subprocess.run(
        [sys.executable, "-m", "claimx_worker.testing.demo", "--events", "120"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "events committed                                121  (expected 121)" in done.stdout
    assert "MISSING" not in done.stdout
    assert "webhooks received" in done.stdout
