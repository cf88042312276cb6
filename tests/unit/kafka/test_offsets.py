"""The offset tracker never lets a commit pass an unfinished event."""

from __future__ import annotations

import random

import pytest

from claimx_worker.kafka.offsets import PartitionOffsets


def test_nothing_to_commit_until_the_first_event_is_done() -> None:
    offsets = PartitionOffsets()
    for offset in (10, 11, 12):
        offsets.add(offset, 0.0)
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
        offsets.add(offset, 0.0)
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
        offsets.add(offset, 0.0)
    offsets.done(7)
    offsets.done(3)
    assert offsets.commit_offset == 8
    offsets.done(8)
    assert offsets.commit_offset == 9


def test_needs_commit_follows_the_committed_offset() -> None:
    offsets = PartitionOffsets()
    offsets.add(0, 0.0)
    assert not offsets.needs_commit()
    offsets.done(0)
    assert offsets.needs_commit()
    offsets.committed = 1
    assert not offsets.needs_commit()
    offsets.add(1, 0.0)
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
        offsets.add(offset, 0.0)
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


def test_oldest_age_is_the_wait_of_the_oldest_unfinished_event() -> None:
    offsets = PartitionOffsets()
    assert offsets.oldest_age(100.0) == 0.0
    first, second = 10.0, 20.0  # two fetches: offsets 0-2, then 3-4
    for offset in (0, 1, 2):
        offsets.add(offset, first)
    for offset in (3, 4):
        offsets.add(offset, second)
    assert offsets.oldest_age(25.0) == 15.0
    offsets.done(1)
    assert offsets.oldest_age(25.0) == 15.0  # 0 still waits
    offsets.done(0)
    offsets.done(2)
    assert offsets.oldest_age(25.0) == 5.0  # the oldest left came with the second fetch
    offsets.done(4)
    offsets.done(3)
    assert offsets.oldest_age(25.0) == 0.0


@pytest.mark.parametrize("seed", range(3))
def test_oldest_age_matches_a_reference_model(seed: int) -> None:
    rng = random.Random(seed)
    offsets = PartitionOffsets()
    fetched_at: dict[int, float] = {}
    done: set[int] = set()
    offset = 0
    for batch in range(50):
        stamp = float(batch)
        for _ in range(rng.randint(1, 5)):
            offsets.add(offset, stamp)
            fetched_at[offset] = stamp
            offset += 1
        open_offsets = sorted(set(fetched_at) - done)
        for candidate in rng.sample(open_offsets, k=min(3, len(open_offsets))):
            offsets.done(candidate)
            done.add(candidate)
        waiting = [fetched_at[o] for o in fetched_at if o not in done]
        assert offsets.oldest_age(100.0) == (100.0 - min(waiting) if waiting else 0.0)
