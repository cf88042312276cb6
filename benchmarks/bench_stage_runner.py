"""Stage-runner cost: microseconds per event for the ``enrichment_complete`` stage.

Runs the plugin host's ``run_enrichment_complete`` on a realistic enriched task event (task,
task template, project, contact and external link rows) with 0, 1 and 10 no-op instances
(sync hooks taking the context, loaded through ``module`` + ``class`` from a plugins directory,
metrics on a fresh registry). Each figure is the median over samples of the mean CPU time per
event (the thread's CPU clock: the machine is shared, and wall time there includes waiting for
a core; the wall-clock median is reported beside it). Target: 10 instances under 30 us.

Prints one JSON list: ``stage_runner_0_instances``, ``stage_runner_1_instance`` and
``stage_runner_10_instances`` (value: us per event, median; extra keys: p10, p90, samples).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from loguru import logger
from prometheus_client import CollectorRegistry

from claimx_worker import (
    ClaimXEvent,
    ContactRow,
    EntityRows,
    ExternalLinkRow,
    HandlerMetadata,
    Plugin,
    PluginContext,
    ProjectRow,
    TaskRow,
    TaskTemplateRow,
    hookimpl,
)
from claimx_worker.plugins.host import PluginHost

SAMPLES = 40
EVENTS_PER_SAMPLE = 2000
WARMUP_EVENTS = 2000
TARGET_US_10_INSTANCES = 30.0
CASES = {"stage_runner_0_instances": 0, "stage_runner_1_instance": 1}
CASES["stage_runner_10_instances"] = 10


class NoopPlugin(Plugin[None]):
    """Looks at the context and returns nothing."""

    @hookimpl
    def on_enrichment_complete(self, context: PluginContext[None]) -> None:
        return None


def enriched_task_event() -> tuple[ClaimXEvent, EntityRows, HandlerMetadata]:
    """A ``CUSTOM_TASK_COMPLETED`` event with the rows its enrichment produces."""
    now = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    audit = {"event_id": "evt-7f3a", "created_at": now, "updated_at": now, "last_enriched_at": now}
    event = ClaimXEvent(
        event_id="evt-7f3a",
        event_type="CUSTOM_TASK_COMPLETED",
        project_id="5012345",
        task_assignment_id="880011",
        created_at=now,
    )
    rows = EntityRows(
        tasks=(
            TaskRow(
                assignment_id=880011,
                task_id=456,
                project_id="5012345",
                task_name="Photo Documentation",
                form_id="F-22",
                assignee_id=3101,
                assignor_id=3102,
                assignor_email="adjuster@example.com",
                date_assigned=now,
                date_completed=now,
                status="COMPLETED",
                mfn="MFN-2024-0042",
                task_url="https://www.claimxperience.com/tasks/880011",
                **audit,
            ),
        ),
        task_templates=(
            TaskTemplateRow(
                task_id=456,
                comp_id=77,
                name="Photo Documentation",
                description="Exterior and interior photos",
                form_id="F-22",
                form_name="Photo form",
                enabled=True,
                is_default=False,
                modified_by="admin@example.com",
                modified_date=now,
                **audit,
            ),
        ),
        projects=(
            ProjectRow(
                project_id="5012345",
                project_number="CLM-2024-0042",
                master_file_name="MFN-2024-0042",
                status="OPEN",
                type_of_loss="Water",
                customer_first_name="Dana",
                customer_last_name="Reyes",
                city="Springfield",
                state_province="IL",
                primary_email="dana@example.com",
                company_name="Acme Mutual",
                **audit,
            ),
        ),
        contacts=(
            ContactRow(
                project_id="5012345",
                contact_email="dana@example.com",
                contact_type="POLICYHOLDER",
                first_name="Dana",
                last_name="Reyes",
                phone_number="5550100",
                is_primary_contact=True,
                task_assignment_id=880011,
                **audit,
            ),
        ),
        external_links=(
            ExternalLinkRow(
                link_id=99001,
                assignment_id=880011,
                project_id="5012345",
                link_code="XK42",
                url="https://www.claimxperience.com/l/XK42",
                **audit,
            ),
        ),
    )
    return event, rows, HandlerMetadata(handler="custom_task", api_calls=2, duration_ms=41.0)


def write_instances(root: Path, count: int) -> Path:
    for index in range(count):
        directory = root / f"noop_{index:02d}"
        directory.mkdir(parents=True)
        (directory / "config.yaml").write_text(
            f"module: __main__\nclass: NoopPlugin\npriority: {index}\n"
        )
    return root


async def measure(instances: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        plugins_dir = write_instances(Path(tmp) / "plugins", instances)
        plugins_dir.mkdir(exist_ok=True)
        host = PluginHost.load(plugins_dir, env={}, registry=CollectorRegistry())
    await host.start()
    event, rows, metadata = enriched_task_event()
    run = host.run_enrichment_complete
    for _ in range(WARMUP_EVENTS):
        await run(event, rows, metadata)
    cpu_us: list[float] = []
    wall_us: list[float] = []
    for _ in range(SAMPLES):
        cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
        for _ in range(EVENTS_PER_SAMPLE):
            await run(event, rows, metadata)
        cpu_us.append((time.thread_time_ns() - cpu) / EVENTS_PER_SAMPLE / 1000)
        wall_us.append((time.perf_counter_ns() - wall) / EVENTS_PER_SAMPLE / 1000)
    await host.stop()
    deciles = statistics.quantiles(cpu_us, n=10)
    return {
        "value": round(statistics.median(cpu_us), 3),
        "unit": "us",
        "p10": round(deciles[0], 3),
        "p90": round(deciles[-1], 3),
        "wall_median_us": round(statistics.median(wall_us), 3),
        "samples": SAMPLES,
        "events_per_sample": EVENTS_PER_SAMPLE,
    }


def main() -> None:
    logger.remove()  # loading logs nothing here; keep stdout pure JSON regardless
    results: list[dict[str, object]] = []
    for name, instances in CASES.items():
        result = {"name": name, **asyncio.run(measure(instances))}
        if instances == 10:
            result["target"] = TARGET_US_10_INSTANCES
        results.append(result)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
