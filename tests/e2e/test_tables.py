"""``claimx-worker run`` and ``claimx-worker tables run`` together on a real broker and the
ClaimX API simulator, the tables real Delta tables under ``tmp_path``: every table holds exactly
the rows the enrichment produced, merged by key; a filtered event writes nothing; rows a plugin
changed are changed in the tables."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from ruamel.yaml import YAML

from claimx_worker.model import EventType
from claimx_worker.tables.schemas import TABLES, TableSchema
from claimx_worker.testing.kafka import KafkaBroker
from tests.e2e.support import (
    UNKNOWN_TYPE,
    Deployment,
    DeployScenario,
    Record,
    StartWorker,
    Topics,
    TopicTail,
    mixed_events,
    produce,
    wait_committed,
    write_yaml,
)
from tests.integration.tables_support import WriterProcess, table_rows

pytestmark = pytest.mark.kafka

SHAPER = """
from claimx_worker import ChangeRows, Filter, Plugin, hookimpl


class Shaper(Plugin):
    @hookimpl
    def on_enrichment_complete(self, context):
        if context.event.project_id == "1003":
            return Filter(reason="not for the tables")
        changes = [ChangeRows(rows="projects", columns={"primary_email": "***"})]
        if context.rows.tasks:
            changes.append(ChangeRows(rows="tasks", columns={"sla_band": "gold"}))
        return changes
"""


def writer_config(deployment: Deployment, location: Path, topics: Topics) -> Path:
    """The deployment's settings plus a ``tables`` section (less the API: not the writer's)."""
    settings = YAML(typ="safe").load(deployment.config.read_text())
    del settings["claimx_api"]
    settings["tables"] = {
        "location": str(location),
        "consumer_group": f"tables-{topics.pending}",
        "dlq_topic": topics.dlq,
        "batch_max_rows": 2000,
        "batch_max_seconds": 1,
    }
    return write_yaml(deployment.config.with_name("writer.yaml"), settings)


Tables = dict[str, dict[tuple[Any, ...], list[dict[str, Any]]]]
"""Table name -> merge key -> the rows it may hold."""

SHARED = "claimx_task_templates"
"""Templates are shared by projects, so by partitions: which of their rows is merged last
depends on how the writer interleaves partitions; any of them may be the table's."""


def expected_tables(records: list[Record]) -> Tables:
    """Each table's rows as a merge of the entity-rows messages in offset order: by key, later
    columns over earlier ones, ``created_at`` from the first (for :data:`SHARED`, every row)."""
    tables: Tables = {name: {} for name in TABLES}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        message = record.json()
        for name, table in TABLES.items():
            for row in message[table.rows]:
                key = tuple(row.get(column) for column in table.merge_key)
                rows = tables[name].setdefault(key, [{}])
                if name == SHARED:
                    rows.append(dict(row))
                    continue
                (merged,) = rows
                created_at = merged.get("created_at")
                merged.update(row)
                if created_at is not None:
                    merged["created_at"] = created_at
    for rows in tables[SHARED].values():
        del rows[0]
    return tables


def _typed(table: TableSchema, column: str, value: Any) -> Any:
    if value is not None and table.schema.get_field_index(column) >= 0:
        if pa.types.is_timestamp(table.schema.field(column).type):
            return datetime.fromisoformat(value).astimezone(UTC)
        if pa.types.is_floating(table.schema.field(column).type):
            return float(value)
    return value


def _matches(table: TableSchema, got: dict[str, Any], want: dict[str, Any]) -> bool:
    return all(
        got[column] == _typed(table, column, value)
        for column, value in want.items()
        if not (table.name == SHARED and column == "created_at")
    )


def check_tables(location: Path, expected: Tables) -> None:
    for name, table in TABLES.items():
        rows = table_rows(location, name)
        got = {tuple(row[column] for column in table.merge_key): row for row in rows}
        assert len(got) == len(rows), f"{name}: a key is in the table twice"
        assert set(got) == set(expected[name]), name
        for key, candidates in expected[name].items():
            assert any(_matches(table, got[key], want) for want in candidates), (name, key)


def test_the_tables_hold_exactly_the_rows_of_two_thousand_mixed_events(
    kafka_broker: KafkaBroker,
    topics: Topics,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    events = mixed_events(2000, prefix="tables")
    known = [event for event in events if event.event_type != UNKNOWN_TYPE]
    deployment = deploy_scenario()
    location = tmp_path / "delta"
    writer = WriterProcess(writer_config(deployment, location, topics), "writer", cli=True)
    try:
        produce(kafka_broker, topics.pending, [event.message() for event in events])
        worker = start_worker(deployment.config, {})
        with TopicTail(kafka_broker, topics.enriched) as enriched:
            enriched.wait_for(lambda r: len(r) >= len(known), 180, what="rows", worker=worker)
            wait_committed(kafka_broker, deployment.group, topics.pending, timeout=60)
            wait_committed(kafka_broker, f"tables-{topics.pending}", topics.enriched, timeout=90)
            records = enriched.settle(0.5)
        expected = expected_tables(records)
        assert all(expected[name] for name in TABLES), "every table gets rows"
        assert len(expected["claimx_tasks"]) == sum(
            e.event_type in (EventType.CUSTOM_TASK_ASSIGNED, EventType.CUSTOM_TASK_COMPLETED)
            for e in events
        )
        check_tables(location, expected)
        with TopicTail(kafka_broker, topics.dlq) as dlq:
            assert dlq.settle(0.5) == []
        assert writer.stop() == 0, writer.output()[-3000:]
        assert worker.terminate() == 0
    finally:
        writer.kill()
    history = DeltaTable(str(location / "claimx_tasks")).history()
    assert {entry["operation"] for entry in history} <= {"CREATE TABLE", "MERGE", "OPTIMIZE"}


def test_a_filtered_event_writes_no_row_and_changed_rows_are_written_changed(
    kafka_broker: KafkaBroker,
    topics: Topics,
    deploy_scenario: DeployScenario,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "tables_shaper.py").write_text(textwrap.dedent(SHAPER))
    deployment = deploy_scenario()
    plugins = deployment.config.parent / "plugins"
    (plugins / "shaper").mkdir()
    (plugins / "shaper" / "config.yaml").write_text(
        "module: tables_shaper\nclass: Shaper\npriority: 1\n"
    )
    events = mixed_events(120, prefix="shape", projects=6)  # projects 1000..1005
    location = tmp_path / "delta"
    writer = WriterProcess(writer_config(deployment, location, topics), "writer", cli=True)
    try:
        produce(kafka_broker, topics.pending, [event.message() for event in events])
        worker = start_worker(deployment.config, {"PYTHONPATH": str(modules)})
        wait_committed(kafka_broker, deployment.group, topics.pending, timeout=90)
        wait_committed(kafka_broker, f"tables-{topics.pending}", topics.enriched, timeout=90)
        assert writer.stop() == 0, writer.output()[-3000:]
        assert worker.terminate() == 0
    finally:
        writer.kill()

    for name in TABLES:
        rows = table_rows(location, name)
        assert all(row.get("project_id") != "1003" for row in rows), name
    projects = table_rows(location, "claimx_projects")
    assert sorted(row["project_id"] for row in projects) == ["1000", "1001", "1002", "1004", "1005"]
    assert {row["primary_email"] for row in projects} <= {"***", None}
    assert any(row["primary_email"] == "***" for row in projects)
    tasks = table_rows(location, "claimx_tasks")
    assert tasks
    assert {row["sla_band"] for row in tasks} == {"gold"}
