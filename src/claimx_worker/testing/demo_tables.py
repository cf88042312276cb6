"""The demo's table writer: ``claimx-worker tables run`` beside the worker, writing the seven
Delta tables under the demo's temporary directory, and what the tables then hold."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from claimx_worker.tables.maintenance import row_counts, show_rows
from claimx_worker.tables.settings import TablesSettings


def tables_section(location: Path, run_id: str, dlq_topic: str) -> dict[str, Any]:
    """The ``tables`` settings of a demo run (small batches: the demo's stream is short)."""
    return {
        "location": str(location),
        "consumer_group": f"claimx-demo-tables-{run_id}",
        "dlq_topic": dlq_topic,
        "batch_max_rows": 1000,
        "batch_max_seconds": 1,
    }


def start_writer(config: Path, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``claimx-worker tables run --config CONFIG``, its output in ``log``."""
    command = [str(Path(sys.executable).with_name("claimx-worker")), "tables", "run"]
    print(f"$ {' '.join(command)} --config {config}")
    with log.open("wb") as out:
        return subprocess.Popen(
            [*command, "--config", str(config)], env=dict(env), stdout=out, stderr=out
        )


def wait_until_written(
    bootstrap: str, group: str, topic: str, writer: subprocess.Popen[bytes], timeout: float = 120
) -> bool:
    """Wait until the writer's group has committed the whole entity-rows topic."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        assignment = [TopicPartition(topic, p) for p in partitions]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and writer.poll() is None:
            committed = consumer.committed(assignment, timeout=10)
            ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in assignment]
            if all(tp.offset >= end for tp, end in zip(committed, ends, strict=True)):
                return True
            time.sleep(0.5)
        return False
    finally:
        consumer.close()


def report_tables(location: Path) -> int:
    """Print the rows per table and one ``claimx_tasks`` row; the number of empty tables."""
    settings = TablesSettings(location=str(location))
    counts = row_counts(settings)
    print(f"\nDelta tables under {location}:")
    for name, count in counts.items():
        print(f"  {name:<44} {count:>6} rows")
    tasks = show_rows(settings, "claimx_tasks", limit=1)
    if tasks:
        print("\nOne claimx_tasks row (claimx-worker tables show claimx_tasks --limit 1):")
        shown = {key: value for key, value in tasks[0].items() if value is not None}
        print("  " + json.dumps(shown, indent=2, default=str).replace("\n", "\n  "))
    return sum(1 for count in counts.values() if count == 0)
