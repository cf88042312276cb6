"""Rows of a batch merged by key: later columns over earlier, created_at kept, written offsets
left out."""

from __future__ import annotations

from claimx_worker.tables.batch import Contribution, merged_rows

P0, P1 = ("t", 0), ("t", 1)


def test_later_rows_win_column_by_column_and_created_at_is_the_first() -> None:
    rows = merged_rows(
        [
            Contribution(P0, 1, {"k": 1, "status": "A", "city": "X", "created_at": 1}),
            Contribution(P0, 2, {"k": 1, "status": "B", "created_at": 2}),
            Contribution(P1, 7, {"k": 2, "status": "C", "created_at": 3}),
        ],
        ("k",),
        {},
    )
    assert rows == [
        {"k": 1, "status": "B", "city": "X", "created_at": 1},
        {"k": 2, "status": "C", "created_at": 3},
    ]


def test_rows_of_offsets_the_table_holds_are_left_out() -> None:
    rows = merged_rows(
        [
            Contribution(P0, 4, {"k": 1}),
            Contribution(P0, 5, {"k": 2}),
            Contribution(P1, 4, {"k": 3}),
        ],
        ("k",),
        {P0: 4},
    )
    assert rows == [{"k": 2}, {"k": 3}]
