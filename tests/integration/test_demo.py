"""The README's main job: the demo runs the real worker end to end and finds what it expects,
again and again on the same broker (each run has its own topics and consumer group)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from claimx_worker.testing.kafka import KafkaBroker

pytestmark = pytest.mark.kafka


def run_demo(broker: KafkaBroker, events: int) -> str:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers}
    done = subprocess.run(
        [sys.executable, "-m", "claimx_worker.testing.demo", "--events", str(events)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MISSING" not in done.stdout
    return done.stdout


def test_demo_runs_the_worker_end_to_end(kafka_broker: KafkaBroker) -> None:
    first = run_demo(kafka_broker, 120)

    assert "events committed                                121  (expected 121)" in first
    assert "webhooks received" in first
    assert "claimx_tasks" in first
    assert '"assignment_id":' in first  # one claimx_tasks row


def test_demo_passes_again_on_a_broker_that_already_holds_a_run(
    kafka_broker: KafkaBroker,
) -> None:
    run_demo(kafka_broker, 40)
    second = run_demo(kafka_broker, 40)

    assert "events committed                                 41  (expected 41)" in second
