"""One Delta table on local disk (no Kafka): merge on keys that may be null, partial rows,
offsets recorded as transactions and a redelivery that adds nothing."""

from __future__ import annotations

from pathlib import Path

from deltalake import DeltaTable

from claimx_worker.tables.batch import Contribution
from claimx_worker.tables.delta import DeltaTableWriter, app_id
from claimx_worker.tables.schemas import TABLES

P0 = ("enriched", 0)


def _writer(path: Path, name: str) -> DeltaTableWriter:
    return DeltaTableWriter(TABLES[name], str(path / name), {}, commit_retries=2)


def test_contacts_merge_on_a_key_with_a_null_email(tmp_path: Path) -> None:
    writer = _writer(tmp_path, "claimx_contacts")
    first = {
        "project_id": "1",
        "contact_email": None,
        "contact_type": "CLAIM_REP",
        "phone_number": "1",
    }
    again = {**first, "phone_number": "2"}
    assert writer.write([Contribution(P0, 0, first)], {P0: 0}) is not None
    assert writer.write([Contribution(P0, 1, again)], {P0: 1}) is not None
    rows = DeltaTable(str(tmp_path / "claimx_contacts")).to_pyarrow_table().to_pylist()
    assert [(row["contact_email"], row["phone_number"]) for row in rows] == [(None, "2")]


def test_offsets_are_recorded_and_a_redelivered_batch_adds_nothing(tmp_path: Path) -> None:
    writer = _writer(tmp_path, "claimx_tasks")
    rows = [
        Contribution(P0, offset, {"assignment_id": offset, "task_id": 1, "project_id": "9"})
        for offset in range(5)
    ]
    commit = writer.write(rows, {P0: 4})
    assert commit is not None
    assert (commit.version, commit.rows) == (1, 5)
    assert writer.write(rows, {P0: 4}) is None
    table = DeltaTable(str(tmp_path / "claimx_tasks"))
    assert table.version() == 1
    assert table.transaction_version(app_id(P0)) == 4
    reopened = _writer(tmp_path, "claimx_tasks")
    assert reopened.written_offsets([P0, ("enriched", 1)]) == {P0: 4}


def test_a_task_template_changes_only_when_its_modified_date_does(tmp_path: Path) -> None:
    writer = _writer(tmp_path, "claimx_task_templates")
    versions = [
        ("2024-01-01T00:00:00+00:00", "A"),
        ("2024-02-01T00:00:00+00:00", "B"),
        ("2024-02-01T00:00:00+00:00", "C"),  # same modified_date: not an update
    ]
    for offset, (modified, name) in enumerate(versions):
        (row,) = writer.columns.typed([{"task_id": 456, "modified_date": modified, "name": name}])
        writer.write([Contribution(P0, offset, row)], {P0: offset})
    rows = DeltaTable(str(tmp_path / "claimx_task_templates")).to_pyarrow_table().to_pylist()
    assert [row["name"] for row in rows] == ["B"]


def test_a_task_template_without_a_modified_date_is_merged(tmp_path: Path) -> None:
    writer = _writer(tmp_path, "claimx_task_templates")
    dated = {"task_id": 456, "name": "A", "modified_date": "2024-01-01T00:00:00+00:00"}
    for offset, row in enumerate([{"task_id": 456, "name": "A"}, dated, {"task_id": 456}]):
        (typed,) = writer.columns.typed([row])
        assert writer.write([Contribution(P0, offset, typed)], {P0: offset}) is not None
    (row,) = DeltaTable(str(tmp_path / "claimx_task_templates")).to_pyarrow_table().to_pylist()
    assert (row["name"], row["modified_date"].year) == ("A", 2024)
