"""Helpers of the table writer's tests: its settings file, its subprocess, entity-rows
messages and reading the Delta tables back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from deltalake import DeltaTable

from claimx_worker.model.rows import ROW_LISTS
from claimx_worker.testing.kafka import KafkaBroker, TopicSpec
from tests.e2e.support import REPO, WORKER, write_yaml


@attrs.frozen
class WriterTopics:
    """The entity-rows topic and the tables' DLQ, unique per test."""

    enriched: str
    dlq: str

    @classmethod
    def create(cls, broker: KafkaBroker, partitions: int = 3) -> WriterTopics:
        prefix = f"tables.{uuid.uuid4().hex[:10]}"
        topics = cls(f"{prefix}.enriched", f"{prefix}.dlq")
        broker.create_topics([TopicSpec(topics.enriched, partitions), TopicSpec(topics.dlq, 1)])
        return topics


def writer_settings(
    path: Path,
    *,
    broker: KafkaBroker,
    topics: WriterTopics,
    location: Path,
    tables: Mapping[str, Any] | None = None,
) -> Path:
    """A settings file of the table writer: small, fast batches; tables under ``location``."""
    return write_yaml(
        path,
        {
            "kafka": {
                "bootstrap_servers": broker.bootstrap_servers,
                "consumer": {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
                "claimx": {
                    "enrichment_worker": {
                        "topics": {"enriched": topics.enriched},
                        "processing": {"commit_interval_seconds": 0.5},
                    }
                },
            },
            "tables": {
                "location": str(location),
                "consumer_group": f"writer-{topics.enriched}",
                "dlq_topic": topics.dlq,
                "batch_max_rows": 100,
                "batch_max_seconds": 0.5,
                **(tables or {}),
            },
            "metrics": {"port": 0},
        },
    )


class WriterProcess:
    """``tests.integration.tables_process`` (the writer, optionally killing itself), or with
    ``cli`` the command ``claimx-worker tables run``."""

    def __init__(
        self, config: Path, name: str, kill_after_batches: int = 0, *, cli: bool = False
    ) -> None:
        self.name = name
        self.log = config.parent / f"{name}.log"
        args = [sys.executable, "-m", "tests.integration.tables_process", str(config)]
        if cli:
            args = [str(WORKER), "tables", "run", "--config", str(config)]
        if kill_after_batches:
            args += ["--kill-after-batches", str(kill_after_batches)]
        env = {**os.environ, "LOG_LEVEL": "DEBUG"}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, cwd=REPO
            )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def batches(self) -> list[str]:
        """The writer's ``batch written`` lines."""
        return [line for line in self.output().splitlines() if line.startswith("batch written")]

    def first_offsets(self) -> dict[int, int]:
        """Per partition: the lowest offset among the rows of the batches it wrote."""
        lowest: dict[int, int] = {}
        for line in self.batches():
            _, _, listed = line.partition("first offsets ")
            for partition, offset in json.loads(listed).items():
                lowest[int(partition)] = min(offset, lowest.get(int(partition), offset))
        return lowest

    def wait_for_log(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {text!r} in:\n{self.output()[-5000:]}")
            time.sleep(0.05)

    def stop(self, timeout: float = 40.0) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def rows_message(project_id: str, **lists: list[dict[str, Any]]) -> tuple[bytes, bytes]:
    """An entity-rows message as the pipeline writes it (unset lists empty)."""
    body: dict[str, Any] = {"event_id": f"e-{uuid.uuid4().hex[:8]}", "project_id": project_id}
    for name in ROW_LISTS:
        body[name] = lists.get(name, [])
    return project_id.encode(), json.dumps(body).encode()


def table_rows(location: Path, name: str) -> list[dict[str, Any]]:
    """Every row of a table (none when it does not exist)."""
    if not DeltaTable.is_deltatable(str(location / name)):
        return []
    rows: list[dict[str, Any]] = DeltaTable(str(location / name)).to_pyarrow_table().to_pylist()
    return rows


def wait_rows(location: Path, name: str, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Wait until table ``name`` has ``count`` rows or more; its rows."""
    deadline = time.monotonic() + timeout
    while len(rows := table_rows(location, name)) < count:
        assert time.monotonic() < deadline, f"{name}: {len(rows)} rows, not {count}"
        time.sleep(0.2)
    return rows


def merge_versions(location: Path, name: str) -> list[dict[str, Any]]:
    """The table's MERGE commits, oldest first."""
    history = DeltaTable(str(location / name)).history()
    return [entry for entry in reversed(history) if entry.get("operation") == "MERGE"]
