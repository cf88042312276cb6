"""Stage cost of one ``task_trigger`` instance holding 1,000 triggers, each with a 3-test
``all:`` condition, in µs per event (target: under 20 µs, as without conditions).

``task_trigger_1000_conditions``: a completed task whose template has a trigger and whose event
and rows pass its three tests (``project_id`` in a list, ``task_status`` equals, ``task_name``
prefix), so the payload is built and 3 actions come back, plus the info line. Measured as
``bench_task_trigger.py`` measures ``task_trigger_1000_match`` (same instance, same event, fresh
rows per call, same log set-up), whose figure is printed beside it as ``baseline``.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench_task_trigger import (
    MATCH_TEMPLATE,
    TRIGGERS,
    NullSink,
    enriched,
    instance_file,
    median_us,
    reference_loop_us,
    started_host,
)
from claimx_worker import ClaimXEvent, EntityRows, HandlerMetadata
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.redaction import Redactor
from claimx_worker.plugins.host import PluginHost

CONDITIONS = (
    "      conditions:",
    "        all:",
    "          - {field: project_id, in: [12345, 67890]}",
    "          - {field: task_status, equals: COMPLETED}",
    "          - {field: task_name, prefix: Photo}",
)


def host_for(trigger_lines: tuple[str, ...]) -> PluginHost:
    with tempfile.TemporaryDirectory() as tmp:
        plugins_dir = Path(tmp)
        (plugins_dir / "task_trigger").mkdir()
        (plugins_dir / "task_trigger" / "config.yaml").write_text(instance_file(trigger_lines))
        return asyncio.run(started_host(plugins_dir))


def measure(
    host: PluginHost, event: ClaimXEvent, fresh_rows: Callable[[], EntityRows]
) -> tuple[float, float]:
    metadata = HandlerMetadata(handler="task", api_calls=2, duration_ms=40.0)
    check = asyncio.run(host.run_enrichment_complete(event, fresh_rows(), metadata))
    if len(check.actions) != 3:
        raise SystemExit(f"expected 3 actions, got {len(check.actions)}")

    async def run(rows: EntityRows) -> object:
        return await host.run_enrichment_complete(event, rows, metadata)

    return median_us(run, fresh_rows)


def main() -> None:
    with_conditions, without = host_for(CONDITIONS), host_for(())
    configure_logging(
        redactor=Redactor(with_conditions.secrets),
        level="INFO",
        fmt="human",
        sink=NullSink(),
        capture_stdlib=False,
    )
    event, fresh_rows = enriched(MATCH_TEMPLATE)
    baseline_wall, baseline_cpu = measure(without, event, fresh_rows)
    wall, cpu = measure(with_conditions, event, fresh_rows)
    result = {
        "name": "task_trigger_1000_conditions",
        "value": round(wall, 2),
        "unit": "us",
        "cpu_us": round(cpu, 2),
        "target_us": 20,
        "baseline": round(baseline_wall, 2),
        "baseline_name": "task_trigger_1000_match",
        "baseline_cpu_us": round(baseline_cpu, 2),
        "triggers": TRIGGERS,
        "tests_per_condition": 3,
        "reference_loop_us": reference_loop_us(),
    }
    print(json.dumps([result], indent=2))


if __name__ == "__main__":
    main()
