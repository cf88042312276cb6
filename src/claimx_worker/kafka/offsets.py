"""Per-partition offset tracking: the highest offset below which every event is done."""

from __future__ import annotations

from collections import deque


class PartitionOffsets:
    """Offsets of one assigned partition, in fetch order, and which of them are done.

    Offsets must be added in increasing order (the order the consumer returns them); they may
    complete in any order. :attr:`commit_offset` is the offset to commit: one past the highest
    offset below which every added offset is done, so a commit never passes an unfinished event.
    Adding and completing are O(1) amortised. Each fetch's time is kept once per batch (the
    first offset it added), so :meth:`oldest_age` can tell how long the oldest unfinished event
    has waited.
    """

    __slots__ = ("_done_ahead", "_fetches", "_last_fetch", "_next_commit", "_pending", "committed")

    def __init__(self) -> None:
        self._pending: deque[int] = deque()
        self._done_ahead: set[int] = set()
        self._next_commit: int | None = None
        self._fetches: deque[tuple[int, float]] = deque()
        """(first offset, time) of each fetch that added offsets still pending."""
        self._last_fetch: float | None = None
        self.committed: int | None = None
        """The last offset committed for this partition (set by the committer)."""

    def add(self, offset: int, fetched_at: float) -> None:
        """Record a fetched offset that is not done yet; ``fetched_at`` is its batch's time
        (the same object for every offset of a batch)."""
        self._pending.append(offset)
        if fetched_at is not self._last_fetch:
            self._last_fetch = fetched_at
            fetches = self._fetches
            fetches.append((offset, fetched_at))
            head = self._pending[0]
            while len(fetches) > 1 and fetches[1][0] <= head:
                fetches.popleft()

    def oldest_age(self, now: float) -> float:
        """Seconds since the oldest fetched offset that is not done yet was fetched (0 when
        every fetched offset is done); ``now`` on the clock of ``fetched_at``."""
        if not self._pending:
            return 0.0
        head = self._pending[0]
        fetches = self._fetches
        while len(fetches) > 1 and fetches[1][0] <= head:
            fetches.popleft()
        return max(0.0, now - fetches[0][1]) if fetches else 0.0

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
