"""Stage cost of one ``task_trigger`` instance holding 1,000 triggers, in µs per event.

Events go through the plugin host's stage runner (``PluginHost.run_enrichment_complete``), with
the worker's log set-up (human format, INFO, a sink that discards the text). Each call gets fresh
rows, made as enrichment makes them (``EntityRows.from_columns``, built before the timed batch):
rows a plugin reads as typed rows are made on that read, once per event, as in the pipeline.
Two events:

- ``task_trigger_1000_match``: a completed task whose template has a trigger; the payload is
  built (with the task row) and 3 actions come back (publish, webhook, log), plus the info line.
- ``task_trigger_1000_miss``: a completed task whose template has no trigger.

Prints one JSON document: a list of ``{"name", "value", "unit", ...}``; ``value`` is the median
of per-batch mean wall-clock times. Extra keys, in process CPU time (steadier than wall time on
a shared machine): ``cpu_us`` the same calls, ``hook_cpu_us`` the hook called directly (no
runner), ``hook_at_warning_cpu_us`` that with the log level at WARNING (no info line written).
``reference_loop_us`` times ``sum(range(1000))`` right after each measurement: the machine's
speed at that moment (about 15 us on this machine at full speed; the shared VM has periods
about 1.5x slower, which slow every figure alike).
"""

from __future__ import annotations

import asyncio
import io
import json
import statistics
import tempfile
import time
import timeit
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from claimx_plugin_task_trigger import TaskTriggerPlugin
from claimx_worker import (
    ClaimXEvent,
    ContactRow,
    EntityRows,
    ExternalLinkRow,
    HandlerMetadata,
    PluginContext,
    ProjectRow,
    Stage,
    TaskRow,
    TaskTemplateRow,
)
from claimx_worker.model.rows import ROW_LISTS
from claimx_worker.observability.logs import configure_logging
from claimx_worker.observability.redaction import Redactor
from claimx_worker.plugins.host import PluginHost

TRIGGERS = 1000
FIRST_TEMPLATE = 10_000
MATCH_TEMPLATE = FIRST_TEMPLATE + TRIGGERS // 2
MISS_TEMPLATE = 7
BATCHES = 40
BATCH = 250
WARMUP = 2000


class NullSink(io.StringIO):
    """A text stream that discards everything (measures formatting, not terminal I/O)."""

    def write(self, text: str) -> int:
        return len(text)


def instance_file(trigger_lines: tuple[str, ...] = ()) -> str:
    """A task_trigger instance with TRIGGERS triggers, each firing 3 actions on completion;
    ``trigger_lines`` are added to every trigger (e.g. its conditions)."""
    lines = ["name: task_trigger", "plugin: task_trigger", "config:", "  triggers:"]
    for template in range(FIRST_TEMPLATE, FIRST_TEMPLATE + TRIGGERS):
        lines += [
            f"    {template}:",
            f'      name: "Template {template}"',
            *trigger_lines,
            "      on_completed:",
            '        publish_to_topic: "claimx.task-triggers"',
            "        webhook:",
            '          url: "https://hooks.example.com/claimx"',
            '          headers: {Authorization: "Bearer ${WEBHOOK_TOKEN}"}',
            '        log: "{trigger_name}: assignment {assignment_id} on project {project_id}"',
        ]
    return "\n".join(lines) + "\n"


def enriched(template: int) -> tuple[ClaimXEvent, Callable[[], EntityRows]]:
    """A completed task event, and a maker of fresh rows as enrichment produces them for it."""
    now = datetime(2024, 5, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    event = ClaimXEvent(
        event_id="evt-8c1e5d0b2f",
        event_type="CUSTOM_TASK_COMPLETED",
        project_id="12345",
        created_at=now,
        task_assignment_id="98765",
    )
    task = TaskRow(
        assignment_id=98765,
        task_id=template,
        project_id="12345",
        task_name="Photo Documentation",
        form_id="form-77",
        assignee_id=501,
        assignor_id=502,
        assignor_email="adjuster@example.com",
        date_assigned=datetime(2024, 4, 30, 9, 15, tzinfo=UTC),
        date_completed=datetime(2024, 5, 1, 11, 59, 58, tzinfo=UTC),
        status="COMPLETED",
        mfn="MFN-1",
        task_url="https://www.claimxperience.com/tasks/98765",
        event_id=event.event_id,
        created_at=now,
        updated_at=now,
        last_enriched_at=now,
    )
    typed = EntityRows(
        tasks=(task,),
        task_templates=(TaskTemplateRow(task_id=template, name="Photo Documentation"),),
        external_links=(ExternalLinkRow(link_id=7, assignment_id=98765, project_id="12345"),),
        contacts=(
            ContactRow(project_id="12345", contact_email="a@example.com", contact_type="CLAIM_REP"),
        ),
        projects=(ProjectRow(project_id="12345", status="OPEN", created_at=now),),
    )
    columns = {name: typed.columns(name) for name in ROW_LISTS}
    return event, lambda: EntityRows.from_columns(**columns)


def median_us(
    call: Callable[[EntityRows], Awaitable[object]], fresh_rows: Callable[[], EntityRows]
) -> tuple[float, float]:
    """Medians over BATCHES of the mean µs of one call on fresh rows (wall clock, process CPU
    time); each batch's rows are made before it is timed."""

    async def measure() -> tuple[float, float]:
        for _ in range(WARMUP):
            await call(fresh_rows())
        wall, cpu = [], []
        for _ in range(BATCHES):
            batch = [fresh_rows() for _ in range(BATCH)]
            start, start_cpu = time.perf_counter(), time.process_time()
            for rows in batch:
                await call(rows)
            wall.append((time.perf_counter() - start) / BATCH * 1e6)
            cpu.append((time.process_time() - start_cpu) / BATCH * 1e6)
        return statistics.median(wall), statistics.median(cpu)

    return asyncio.run(measure())


def hook_cpu_us(
    host: PluginHost, event: ClaimXEvent, fresh_rows: Callable[[], EntityRows]
) -> float:
    """CPU µs of the hook alone (no runner), called with prebuilt contexts."""
    (instance,) = host.instances
    plugin = instance.plugin
    assert isinstance(plugin, TaskTriggerPlugin)
    metadata = HandlerMetadata()

    def fresh_context() -> PluginContext[Any]:
        return PluginContext(
            event, Stage.ENRICHMENT_COMPLETE, fresh_rows(), metadata, instance.config, instance.name
        )

    async def call(context: Any) -> object:
        return plugin.on_enrichment_complete(context=context)

    return median_us(call, fresh_context)[1]


def reference_loop_us() -> float:
    """µs of ``sum(range(1000))``, best of 5: how fast the machine runs Python right now."""
    return round(min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6, 2)


async def started_host(plugins_dir: Path) -> PluginHost:
    host = PluginHost.load(
        plugins_dir, env={"WEBHOOK_TOKEN": "tok-0123456789"}, registry=CollectorRegistry()
    )
    await host.start()
    return host


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plugins_dir = Path(tmp)
        (plugins_dir / "task_trigger").mkdir()
        (plugins_dir / "task_trigger" / "config.yaml").write_text(instance_file())
        host = asyncio.run(started_host(plugins_dir))
    redactor = Redactor(host.secrets)
    configure_logging(
        redactor=redactor, level="INFO", fmt="human", sink=NullSink(), capture_stdlib=False
    )
    metadata = HandlerMetadata(handler="task", api_calls=2, duration_ms=40.0)
    results: list[dict[str, object]] = []
    for name, template, actions in (
        ("task_trigger_1000_match", MATCH_TEMPLATE, 3),
        ("task_trigger_1000_miss", MISS_TEMPLATE, 0),
    ):
        event, fresh_rows = enriched(template)
        check = asyncio.run(host.run_enrichment_complete(event, fresh_rows(), metadata))
        if len(check.actions) != actions:
            raise SystemExit(f"{name}: expected {actions} actions, got {len(check.actions)}")

        async def run(rows: EntityRows, event: ClaimXEvent = event) -> object:
            return await host.run_enrichment_complete(event, rows, metadata)

        wall, cpu = median_us(run, fresh_rows)
        results.append(
            {
                "name": name,
                "value": round(wall, 2),
                "unit": "us",
                "cpu_us": round(cpu, 2),
                "path": "PluginHost.run_enrichment_complete",
                "hook_cpu_us": round(hook_cpu_us(host, event, fresh_rows), 2),
                "triggers": TRIGGERS,
                "actions": actions,
                "reference_loop_us": reference_loop_us(),
            }
        )
    configure_logging(
        redactor=redactor, level="WARNING", fmt="human", sink=NullSink(), capture_stdlib=False
    )
    for result, template in zip(results, (MATCH_TEMPLATE, MISS_TEMPLATE), strict=True):
        result["hook_at_warning_cpu_us"] = round(hook_cpu_us(host, *enriched(template)), 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
