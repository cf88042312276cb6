"""The table writer on a real broker, writing real Delta tables under ``tmp_path``: merge
semantics across batches, schema evolution, type conflicts to the DLQ, a kill -9 between the
Delta commit and the Kafka commit, and two writers in one group."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from claimx_worker.tables.delta import app_id
from claimx_worker.tables.schemas import TABLES
from claimx_worker.testing.kafka import KafkaBroker
from tests.e2e.support import TopicTail, produce, wait_committed
from tests.integration.runtime_support import committed
from tests.integration.tables_support import (
    WriterProcess,
    WriterTopics,
    merge_versions,
    rows_message,
    table_rows,
    wait_rows,
    writer_settings,
)

pytestmark = pytest.mark.kafka

T1, T2, T3 = (
    "2024-05-01T10:00:00+00:00",
    "2024-05-02T11:00:00+00:00",
    "2024-05-03T12:00:00Z",
)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def topics(kafka_broker: KafkaBroker) -> Iterator[WriterTopics]:
    created = WriterTopics.create(kafka_broker)
    yield created
    kafka_broker.delete_topics([created.enriched, created.dlq])


@pytest.fixture
def writers() -> Iterator[list[WriterProcess]]:
    started: list[WriterProcess] = []
    yield started
    for writer in started:
        writer.kill()


def _settings(
    broker: KafkaBroker, topics: WriterTopics, directory: Path, **tables: object
) -> tuple[Path, Path]:
    """The tables' location and the writer's settings file."""
    location = directory / "delta"
    path = directory / "writer.yaml"
    return location, writer_settings(
        path, broker=broker, topics=topics, location=location, tables=tables
    )


def _task(assignment_id: int, status: str, at: str, **columns: object) -> dict[str, object]:
    return {
        "assignment_id": assignment_id,
        "task_id": 77,
        "project_id": "100",
        "status": status,
        "created_at": at,
        "updated_at": at,
        **columns,
    }


def test_rows_merge_across_batches_and_new_columns_are_added(
    kafka_broker: KafkaBroker, topics: WriterTopics, tmp_path: Path, writers: list[WriterProcess]
) -> None:
    location, config = _settings(kafka_broker, topics, tmp_path)
    writers.append(writer := WriterProcess(config, "writer"))
    project = {"project_id": "100", "status": "OPEN", "city": "Leeds", "created_at": T1}
    produce(
        kafka_broker,
        topics.enriched,
        [
            rows_message("100", tasks=[_task(11, "ASSIGNED", T1)], projects=[project]),
            rows_message(
                "100",
                tasks=[_task(11, "COMPLETED", T2, date_completed=T2)],
                # a partial project row: columns it leaves out keep their values
                projects=[{"project_id": "100", "policyholder_joined_at": T2, "created_at": T2}],
            ),
        ],
    )
    wait_rows(location, "claimx_tasks", 1)
    produce(
        kafka_broker,
        topics.enriched,
        [
            rows_message(
                "100",
                tasks=[_task(11, "COMPLETED", T3, date_completed=T2, sla_band="gold")],
            )
        ],
    )
    wait_committed(kafka_broker, f"writer-{topics.enriched}", topics.enriched)

    (task,) = table_rows(location, "claimx_tasks")
    # hand-computed: first write's created_at, last write's status, updated_at and new column
    assert task["assignment_id"] == 11
    assert task["status"] == "COMPLETED"
    assert task["created_at"] == _at(T1)
    assert task["updated_at"] == _at(T3)
    assert task["date_completed"] == _at(T2)
    assert task["sla_band"] == "gold"
    (row,) = table_rows(location, "claimx_projects")
    assert (row["status"], row["city"], row["created_at"]) == ("OPEN", "Leeds", _at(T1))
    assert row["policyholder_joined_at"] == _at(T2)
    schema = pa.schema(DeltaTable(str(location / "claimx_tasks")).schema().to_arrow())
    assert str(schema.field("assignment_id").type) == "int64"
    assert "timestamp" in str(schema.field("date_completed").type)
    assert table_rows(location, "claimx_contacts") == []
    writer.stop()


def test_a_value_of_the_wrong_type_goes_to_the_dlq_with_the_reason(
    kafka_broker: KafkaBroker, topics: WriterTopics, tmp_path: Path, writers: list[WriterProcess]
) -> None:
    location, config = _settings(kafka_broker, topics, tmp_path)
    writers.append(WriterProcess(config, "writer"))
    produce(
        kafka_broker,
        topics.enriched,
        [
            rows_message("100", tasks=[_task(12, "ASSIGNED", T1, form_id=5)]),  # form_id: str
            rows_message("101", tasks=[{**_task(13, "ASSIGNED", T1), "project_id": "101"}]),
            (b"102", b"not json"),
        ],
    )
    with TopicTail(kafka_broker, topics.dlq) as dlq:
        records = dlq.wait_for(lambda records: len(records) >= 2, what="two DLQ records")
    reasons = " | ".join(record.headers.get("claimx-error", "") for record in records)
    assert "form_id" in reasons, reasons
    assert "not JSON" in reasons, reasons
    rows = wait_rows(location, "claimx_tasks", 1)
    assert [row["assignment_id"] for row in rows] == [13]


def test_kill_between_the_delta_commit_and_the_kafka_commit_neither_loses_nor_doubles(
    kafka_broker: KafkaBroker, topics: WriterTopics, tmp_path: Path, writers: list[WriterProcess]
) -> None:
    location, config = _settings(kafka_broker, topics, tmp_path, batch_max_seconds=5)
    messages = [
        rows_message(
            str(100 + i % 7),
            tasks=[{**_task(1000 + i, "ASSIGNED", T1), "project_id": str(100 + i % 7)}],
        )
        for i in range(600)
    ]
    produce(kafka_broker, topics.enriched, messages)
    writers.append(first := WriterProcess(config, "first", kill_after_batches=2))
    assert first.process.wait(60) == -9, first.output()[-3000:]
    before = table_rows(location, "claimx_tasks")
    assert 0 < len(before) < 600  # two batches of 100 rows are in, and nothing was committed

    writers.append(second := WriterProcess(config, "second"))
    rows = wait_rows(location, "claimx_tasks", 600)
    wait_committed(kafka_broker, f"writer-{topics.enriched}", topics.enriched)
    assert second.stop() == 0

    rows = table_rows(location, "claimx_tasks")
    assert sorted(row["assignment_id"] for row in rows) == list(range(1000, 1600))
    # one table version per batch that had new rows; the redelivered batches added none
    committed = [line for line in first.batches() + second.batches() if "claimx_tasks" in line]
    assert len(merge_versions(location, "claimx_tasks")) == len(committed)
    table = DeltaTable(str(location / "claimx_tasks"))
    ends = {}
    with TopicTail(kafka_broker, topics.enriched) as tail:
        for record in tail.settle(quiet=0.2):
            ends[record.partition] = max(record.offset, ends.get(record.partition, -1))
    for partition, end in ends.items():
        assert table.transaction_version(app_id((topics.enriched, partition))) == end


def _every_table_row(i: int) -> tuple[bytes, bytes]:
    """A message with one row, unique to it, for each of the seven tables."""
    project = str(300 + i % 5)
    return rows_message(
        project,
        projects=[{"project_id": project, "status": f"S{i}", "created_at": T1}],
        contacts=[{"project_id": project, "contact_email": f"c{i}@x.test", "contact_type": "A"}],
        media=[{"media_id": f"m{i}", "project_id": project}],
        tasks=[{**_task(9000 + i, "ASSIGNED", T1), "project_id": project}],
        task_templates=[{"task_id": 20_000 + i}],
        external_links=[{"link_id": 30_000 + i, "project_id": project}],
        video_collab=[{"video_collaboration_id": f"v{i}", "project_id": project}],
    )


def test_a_restarted_writer_resumes_from_the_offsets_in_the_tables(
    kafka_broker: KafkaBroker, topics: WriterTopics, tmp_path: Path, writers: list[WriterProcess]
) -> None:
    location, config = _settings(kafka_broker, topics, tmp_path, batch_max_seconds=5)
    group = f"writer-{topics.enriched}"
    produce(kafka_broker, topics.enriched, [_every_table_row(i) for i in range(300)])
    writers.append(first := WriterProcess(config, "first", kill_after_batches=2))
    assert first.process.wait(60) == -9, first.output()[-3000:]
    kafka = committed(kafka_broker, group, topics.enriched, partitions=3)
    in_tables = {}
    for partition in range(3):
        versions = [
            DeltaTable(str(location / name)).transaction_version(
                app_id((topics.enriched, partition))
            )
            for name in TABLES
        ]
        if None not in versions:
            in_tables[partition] = min(v for v in versions if v is not None) + 1
    ahead = {p: offset for p, offset in in_tables.items() if offset > kafka.get(p, 0)}
    assert ahead, (kafka, in_tables)  # the tables hold offsets Kafka has not committed

    writers.append(second := WriterProcess(config, "second"))
    wait_rows(location, "claimx_tasks", 300)
    wait_committed(kafka_broker, group, topics.enriched)
    assert second.stop() == 0

    # the restarted writer's first records are the tables' next offsets, not Kafka's
    consumed = second.first_offsets()
    for partition, offset in ahead.items():
        assert consumed[partition] == offset, (partition, consumed, ahead, kafka)
    for name, column, expected in (
        ("claimx_tasks", "assignment_id", list(range(9000, 9300))),
        ("claimx_task_templates", "task_id", list(range(20_000, 20_300))),
        ("claimx_video_collab", "video_collaboration_id", sorted(f"v{i}" for i in range(300))),
    ):
        assert sorted(row[column] for row in table_rows(location, name)) == expected
    # redelivered rows were never read again, so no batch of the second writer was empty
    assert all("commits to claimx" in line for line in second.batches())


def test_two_writers_in_one_group_one_killed_midway_keep_the_tables_consistent(
    kafka_broker: KafkaBroker, topics: WriterTopics, tmp_path: Path, writers: list[WriterProcess]
) -> None:
    location, config = _settings(kafka_broker, topics, tmp_path)
    writers.append(doomed := WriterProcess(config, "doomed", kill_after_batches=3))
    doomed.wait_for_log("Partitions assigned")
    writers.append(steady := WriterProcess(config, "steady"))
    steady.wait_for_log("Partitions assigned")  # the group's partitions now split between them
    messages = [
        rows_message(
            str(200 + i % 11),
            tasks=[{**_task(5000 + i, "ASSIGNED", T1), "project_id": str(200 + i % 11)}],
            projects=[{"project_id": str(200 + i % 11), "status": f"S{i}", "created_at": T1}],
        )
        for i in range(1500)
    ]
    produce(kafka_broker, topics.enriched, messages)
    assert doomed.process.wait(90) == -9, doomed.output()[-3000:]
    wait_rows(location, "claimx_tasks", 1500, timeout=120)
    wait_committed(kafka_broker, f"writer-{topics.enriched}", topics.enriched, timeout=60)
    assert steady.stop() == 0

    tasks = table_rows(location, "claimx_tasks")
    assert sorted(row["assignment_id"] for row in tasks) == list(range(5000, 6500))
    projects = table_rows(location, "claimx_projects")
    assert sorted(row["project_id"] for row in projects) == sorted(str(200 + i) for i in range(11))
    # each project's status is its last message's (messages of a key share a partition)
    last = {str(200 + i % 11): f"S{i}" for i in range(1500)}
    assert {row["project_id"]: row["status"] for row in projects} == last
