"""Per-partition offset tracking: the highest offset below which every event is done."""

from __future__ import annotations

from collections import deque


class PartitionOffsets:
    """Offsets of one assigned partition, in fetch order, and which of them are done.

    Offsets must be added in increasing order (the order the consumer returns them); they may
    complete in any order. :attr:`commit_offset` is the offset to commit: one past the highest
    offset below which every added offset is done, so a commit never passes an unfinished event.
    Adding and completing are O(1) amortised.
    """

    __slots__ = ("_done_ahead", "_next_commit", "_pending", "committed")

    def __init__(self) -> None:
        self._pending: deque[int] = deque()
        self._done_ahead: set[int] = set()
        self._next_commit: int | None = None
        self.committed: int | None = None
        """The last offset committed for this partition (set by the committer)."""

    def add(self, offset: int) -> None:
        """Record a fetched offset that is not done yet."""
        self._pending.append(offset)

    def done(self, offset: int) -> None:
        """Record that the event at ``offset`` is done."""
        pending = self._pending
        if not pending or pending[0] != offset:
            self._done_ahead.add(offset)
            return
        pending.popleft()
        last = offset
        done_ahead = self._done_ahead
        while pending and pending[0] in done_ahead:
            last = pending.popleft()
            done_ahead.remove(last)
        self._next_commit = last + 1

    @property
    def commit_offset(self) -> int | None:
        """The offset to commit (every earlier fetched offset is done), or ``None`` if none yet."""
        return self._next_commit

    @property
    def uncommittable(self) -> int:
        """How many fetched events are not yet below :attr:`commit_offset`."""
        return len(self._pending)

    def needs_commit(self) -> bool:
        """Whether :attr:`commit_offset` moved past the last committed offset."""
        return self._next_commit is not None and self._next_commit != self.committed
