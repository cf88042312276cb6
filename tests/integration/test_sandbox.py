"""``claimx-worker sandbox up``: the demo's stack for a worker started by hand, on an existing
broker here (``KAFKA_BOOTSTRAP_SERVERS``); the wheel test starts its own broker."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from claimx_worker.settings import WorkerSettings
from claimx_worker.testing.claimx_api import SIMULATOR_TOKEN
from claimx_worker.testing.kafka import KafkaBroker
from claimx_worker.testing.sandbox import TASK_TRIGGER_TOPIC, worker_topics

pytestmark = pytest.mark.kafka

EXPORTED = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "CLAIMX_API_URL",
    "CLAIMX_API_TOKEN",
    "TASK_TRIGGER_WEBHOOK_URL",
    "DAMAGE_ASSESSMENT_WEBHOOK_URL",
    "WEBHOOK_TOKEN",
)


def test_worker_topics_are_every_topic_the_worker_names() -> None:
    assert worker_topics(WorkerSettings().kafka.worker) == [
        "claimx.enrichment.pending",
        "claimx.enriched",
        "claimx.downloads.pending",
        "claimx.enrichment.dlq",
        "claimx.actions.dlq",
        "claimx.actions.retry",
        "claimx.enrichment.retry.5m",
        "claimx.enrichment.retry.10m",
        "claimx.enrichment.retry.20m",
        "claimx.enrichment.retry.40m",
    ]


def test_sandbox_up_prints_the_environment_serves_and_stops_on_sigterm(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    extra = f"sandbox.{uuid.uuid4().hex[:8]}"
    tables_dlq = f"sandbox.tables-dlq.{uuid.uuid4().hex[:8]}"
    shadow = f"sandbox.shadow.{uuid.uuid4().hex[:8]}"
    settings_file = tmp_path / "claimx_config.yaml"
    settings_file.write_text(
        f"tables:\n  dlq_topic: {tables_dlq}\nplugins:\n  shadow_topic: {shadow}\n"
    )
    command = [str(Path(sys.executable).with_name("claimx-worker")), "sandbox", "up"]
    stderr_path = tmp_path / "sandbox.log"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [*command, "--create-topic", extra, "--config", str(settings_file)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers},
        )
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline().rstrip("\n") for _ in EXPORTED]
            exports = [re.fullmatch(r"export (\w+)=(\S+)", line) for line in lines]
            env = {match[1]: match[2] for match in exports if match is not None}
            assert list(env) == list(EXPORTED), lines
            assert env["KAFKA_BOOTSTRAP_SERVERS"] == kafka_broker.bootstrap_servers
            assert env["CLAIMX_API_TOKEN"] == SIMULATOR_TOKEN

            topics = kafka_broker.admin().list_topics(timeout=10).topics
            worker = WorkerSettings().kafka.worker
            expected = [*worker_topics(worker), TASK_TRIGGER_TOPIC, tables_dlq, shadow, extra]
            assert set(expected) <= set(topics)
            auth = {"Authorization": f"Basic {env['CLAIMX_API_TOKEN']}"}
            project = httpx.get(f"{env['CLAIMX_API_URL']}/export/project/12345", headers=auth)
            assert project.status_code == 200
            hook = httpx.post(env["TASK_TRIGGER_WEBHOOK_URL"], json={"ok": True})
            assert hook.status_code == 200
            _wait_for(stderr_path, "INFO: Webhook received | method=POST path=/hooks/task-trigger")
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
    log = stderr_path.read_text()
    assert "INFO: Sandbox running; stop with Ctrl-C or SIGTERM" in log
    assert log.rstrip().endswith("INFO: Sandbox stopped")
    assert "Traceback" not in log


def _wait_for(path: Path, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert time.monotonic() < deadline, path.read_text()
        time.sleep(0.1)
