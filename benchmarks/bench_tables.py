"""Table writer throughput: rows/s from a topic of entity-rows messages into local Delta tables.

Starts a local broker (``claimx_worker.testing.kafka``, or ``KAFKA_BOOTSTRAP_SERVERS``), fills a
topic (6 partitions, 2,000 project keys) with entity-rows messages of mixed tables (per message a
project, a contact, a task, its template and its external link: 5 rows, as the pipeline produces
for a task event), then runs the writer (:func:`~claimx_worker.tables.run.serve_tables`, the
default batch size, stopped by SIGTERM once every message is written) twice:

- ``tables_write_empty``: into empty tables;
- ``tables_write_1m``: into tables whose ``claimx_tasks`` already holds 1,000,000 rows (a merge
  that rewrote or scanned the whole table per batch would show here).

Each figure is rows/s from start (group join and table opening included) until the last batch
is committed, and the writer's CPU seconds (every thread: delta-rs works in its own) per 1,000
rows. ``baseline``: rows/s of delta-rs appending the same rows in batches of the same size, no
merge, no Kafka. Prints one JSON list.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
from confluent_kafka import Producer
from deltalake import write_deltalake
from loguru import logger
from prometheus_client import CollectorRegistry

from bench_runtime import warm_up  # the same first group join, paid before measuring
from claimx_worker.kafka.settings import (
    ClaimXKafkaSettings,
    EnrichmentWorkerSettings,
    KafkaSettings,
    TopicSettings,
)
from claimx_worker.observability.redaction import Redactor
from claimx_worker.tables.batch import Batch
from claimx_worker.tables.delta import Commit
from claimx_worker.tables.run import serve_tables
from claimx_worker.tables.schemas import TABLES
from claimx_worker.tables.settings import TablesSettings
from claimx_worker.testing.kafka import KafkaBroker, open_kafka_broker

PARTITIONS = 6
KEYS = 2000
MESSAGES = 30_000
ROWS_PER_MESSAGE = 5
EXISTING_TASKS = 1_000_000
TARGET_EMPTY = 20_000.0
TARGET_1M = 10_000.0
STAMP = "2026-01-01T00:00:00+00:00"


def _message(index: int) -> tuple[bytes, bytes]:
    project = str(100_000 + index % KEYS)
    assignment = 2_000_000 + index  # new assignments, above the existing ones
    audit = {"event_id": f"evt-{index:09d}", "created_at": STAMP, "updated_at": STAMP}
    body = {
        "event_id": audit["event_id"],
        "event_type": "CUSTOM_TASK_COMPLETED",
        "project_id": project,
        "projects": [{"project_id": project, "status": "OPEN", "city": "Leeds", **audit}],
        "contacts": [
            {
                "project_id": project,
                "contact_email": f"rep{index % 50}@insurer.example",
                "contact_type": "CLAIM_REP",
                "first_name": "Ada",
                "task_assignment_id": assignment,
                **audit,
            }
        ],
        "media": [],
        "tasks": [
            {
                "assignment_id": assignment,
                "task_id": 456 + index % 4,
                "project_id": project,
                "task_name": "Photo documentation",
                "status": "COMPLETED",
                "date_assigned": STAMP,
                "date_completed": STAMP,
                "assignor_email": "assignor@insurer.example",
                **audit,
            }
        ],
        "task_templates": [
            {"task_id": 456 + index % 4, "name": "Photo documentation", "enabled": True, **audit}
        ],
        "external_links": [
            {
                "link_id": 9_000_000 + index,
                "assignment_id": assignment,
                "project_id": project,
                "url": f"https://claimx.example/l/{index}",
                **audit,
            }
        ],
        "video_collab": [],
    }
    return project.encode(), json.dumps(body).encode()


def fill(broker: KafkaBroker, topic: str, count: int) -> None:
    producer = Producer(broker.client_config({"linger.ms": 20, "batch.size": 1_000_000}))
    for index in range(count):
        key, value = _message(index)
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)


def existing_tasks(location: Path, count: int) -> None:
    """``count`` task rows in ``claimx_tasks`` (assignment ids below the stream's)."""
    schema = TABLES["claimx_tasks"].schema
    stamp = pa.scalar(time.time_ns() // 1000, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    chunk = 250_000
    for start in range(0, count, chunk):
        ids = pa.array(range(start, min(count, start + chunk)), pa.int64())
        size = len(ids)
        columns = {
            "assignment_id": ids,
            "task_id": pa.array([456] * size, pa.int64()),
            "project_id": pa.array([str(100_000 + i % KEYS) for i in range(size)], pa.string()),
            "status": pa.array(["COMPLETED"] * size, pa.string()),
            "created_at": pa.array([stamp.as_py()] * size, pa.timestamp("us", tz="UTC")),
        }
        table = pa.table(
            {field.name: columns.get(field.name, pa.nulls(size, field.type)) for field in schema},
            schema=schema,
        )
        write_deltalake(str(location / "claimx_tasks"), table, mode="append")


def _kafka(broker: KafkaBroker, topic: str) -> KafkaSettings:
    worker = EnrichmentWorkerSettings(topics=TopicSettings(enriched=topic))
    return KafkaSettings(
        bootstrap_servers=broker.bootstrap_servers,
        claimx=ClaimXKafkaSettings(enrichment_worker=worker),
    )


def write_rate(broker: KafkaBroker, topic: str, location: Path) -> tuple[float, float]:
    """Rows/s and CPU s per 1,000 rows of the writer over the whole topic."""
    tables = TablesSettings(
        location=str(location),
        consumer_group=f"bench-tables-{uuid.uuid4().hex[:8]}",
        dlq_topic=f"{topic}.dlq",
    )
    written = 0

    def on_written(batch: Batch, _: list[Commit]) -> None:
        nonlocal written
        written += batch.messages
        if written >= MESSAGES:
            os.kill(os.getpid(), signal.SIGTERM)  # drain, commit and return

    started, cpu = time.perf_counter(), time.process_time()
    asyncio.run(
        serve_tables(
            _kafka(broker, topic),
            tables,
            registry=CollectorRegistry(),
            redactor=Redactor(),
            on_written=on_written,
        )
    )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    rows = MESSAGES * ROWS_PER_MESSAGE
    return rows / elapsed, cpu / rows * 1000


def append_rate(location: Path) -> float:
    """Rows/s of plain delta-rs appends of the same task rows, in batches of the default size."""
    batch = TablesSettings().batch_max_rows
    schema = TABLES["claimx_tasks"].schema
    rows = [json.loads(_message(i)[1])["tasks"][0] for i in range(batch)]
    for row in rows:
        for column in ("date_assigned", "date_completed", "created_at", "updated_at"):
            row[column] = None
    table = pa.Table.from_pylist(rows, schema=schema)
    rounds = 10
    started = time.perf_counter()
    for _ in range(rounds):
        write_deltalake(str(location / "append"), table, mode="append")
    return rounds * batch / (time.perf_counter() - started)


def main() -> None:
    logger.remove()
    logger.add(sys.stderr, level=os.environ.get("LOG_LEVEL", "WARNING"))
    workdir = Path(tempfile.mkdtemp(prefix="bench-tables-"))
    try:
        with open_kafka_broker() as broker:
            run = uuid.uuid4().hex[:8]
            topic = f"bench.{run}.enriched"
            broker.create_topics(topic, partitions=PARTITIONS)
            broker.create_topics(f"{topic}.dlq", partitions=1)
            fill(broker, topic, MESSAGES)
            warm_up(broker, topic)
            empty, empty_cpu = write_rate(broker, topic, workdir / "empty")
            existing_tasks(workdir / "full", EXISTING_TASKS)
            full, full_cpu = write_rate(broker, topic, workdir / "full")
            broker.delete_topics([topic, f"{topic}.dlq"])
        baseline = append_rate(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    common: dict[str, Any] = {
        "unit": "rows/s",
        "baseline": round(baseline, 1),
        "rows": MESSAGES * ROWS_PER_MESSAGE,
        "batch_max_rows": TablesSettings().batch_max_rows,
        "partitions": PARTITIONS,
    }
    results = [
        {
            "name": "tables_write_empty",
            "value": round(empty, 1),
            "target": TARGET_EMPTY,
            "cpu_s_per_1000_rows": round(empty_cpu, 4),
            **common,
        },
        {
            "name": "tables_write_1m",
            "value": round(full, 1),
            "target": TARGET_1M,
            "cpu_s_per_1000_rows": round(full_cpu, 4),
            "existing_task_rows": EXISTING_TASKS,
            **common,
        },
    ]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
