"""The offset tracker never lets a commit pass an unfinished event."""

from __future__ import annotations

import random

import pytest

from claimx_worker.kafka.offsets import PartitionOffsets


def test_nothing_to_commit_until_the_first_event_is_done() -> None:
    offsets = PartitionOffsets()
    for offset in (10, 11, 12):
        offsets.add(offset)
    assert offsets.commit_offset is None
    offsets.done(11)
    offsets.done(12)
    assert offsets.commit_offset is None
    assert offsets.uncommittable == 3
    offsets.done(10)
    assert offsets.commit_offset == 13
    assert offsets.uncommittable == 0


def test_out_of_order_completion_commits_only_the_done_prefix() -> None:
    offsets = PartitionOffsets()
    for offset in range(5):
        offsets.add(offset)
    offsets.done(0)
    offsets.done(2)
    offsets.done(3)
    assert offsets.commit_offset == 1  # 1 is still running
    offsets.done(1)
    assert offsets.commit_offset == 4  # 4 is still running
    offsets.done(4)
    assert offsets.commit_offset == 5


def test_gaps_in_offsets_do_not_block_commits() -> None:
    """Compacted topics and transaction markers leave holes; only fetched offsets count."""
    offsets = PartitionOffsets()
    for offset in (3, 7, 8):
        offsets.add(offset)
    offsets.done(7)
    offsets.done(3)
    assert offsets.commit_offset == 8
    offsets.done(8)
    assert offsets.commit_offset == 9


def test_needs_commit_follows_the_committed_offset() -> None:
    offsets = PartitionOffsets()
    offsets.add(0)
    assert not offsets.needs_commit()
    offsets.done(0)
    assert offsets.needs_commit()
    offsets.committed = 1
    assert not offsets.needs_commit()
    offsets.add(1)
    offsets.done(1)
    assert offsets.needs_commit()


@pytest.mark.parametrize("seed", range(5))
def test_random_completion_order_matches_a_reference_model(seed: int) -> None:
    rng = random.Random(seed)
    fetched = sorted(rng.sample(range(2000), 600))
    offsets = PartitionOffsets()
    done: set[int] = set()
    pending = list(fetched)
    for offset in fetched:
        offsets.add(offset)
    rng.shuffle(pending)
    for offset in pending:
        offsets.done(offset)
        done.add(offset)
        expected = None
        for candidate in fetched:
            if candidate not in done:
                break
            expected = candidate + 1
        assert offsets.commit_offset == expected
        if expected is not None:
            assert all(o in done for o in fetched if o < expected)
