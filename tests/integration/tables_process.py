"""The table writer as a test subprocess: ``python -m tests.integration.tables_process CONFIG
[--kill-after-batches N]``. With ``--kill-after-batches`` the process kills itself (SIGKILL)
right after its N-th batch is committed to the Delta tables and before the batch's messages
are done, so before any Kafka commit covers them. Each batch written prints a line with the
tables it was committed to and the lowest offset of each partition among its rows."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from claimx_worker.settings import load_worker_config
from claimx_worker.tables.batch import Batch
from claimx_worker.tables.delta import Commit
from claimx_worker.tables.run import run_tables


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", type=Path)
    parser.add_argument("--kill-after-batches", type=int, default=0)
    args = parser.parse_args()
    settings = load_worker_config(args.config, os.environ).value
    written = 0

    def on_written(batch: Batch, commits: list[Commit]) -> None:
        nonlocal written
        written += 1
        tables = ",".join(commit.table for commit in commits)
        first: dict[str, int] = {}
        for contributions in batch.rows.values():
            for item in contributions:
                key = f"{item.partition[1]}"
                first[key] = min(item.offset, first.get(key, item.offset))
        print(
            f"batch written: {batch.messages} messages; commits to {tables}; "
            f"first offsets {json.dumps(first)}",
            flush=True,
        )
        if written == args.kill_after_batches:
            os.kill(os.getpid(), signal.SIGKILL)

    return run_tables(
        settings.kafka,
        settings.tables,
        metrics=settings.metrics,
        logging=settings.logging,
        secrets=(),
        on_written=on_written,
    )


if __name__ == "__main__":
    sys.exit(main())
