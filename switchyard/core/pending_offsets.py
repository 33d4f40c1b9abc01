"""Source offsets whose copies are acknowledged, committed at most once per interval.

The idempotent key gate may commit late: a record copied again after a crash is skipped
by the sinks' applied marks. Committing every batch cost the broker an OffsetCommit per
batch (~85 requests/s at 200 rec/s, each a write to `__consumer_offsets`); one commit per
interval carries every partition's latest offset instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from confluent_kafka import TopicPartition


class PendingOffsets:
    """The next offset to read per topic partition, acknowledged but not yet committed."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._next: dict[tuple[str, int], int] = {}
        self._last_commit: float | None = None

    def __bool__(self) -> bool:
        return bool(self._next)

    def add(self, offsets: Iterable[TopicPartition]) -> None:
        for tp in offsets:
            key = (tp.topic, tp.partition)
            self._next[key] = max(tp.offset, self._next.get(key, tp.offset))

    def due(self) -> bool:
        """Anything to commit, and the interval since the last commit has passed (the
        first commit is due at once, so light traffic commits every batch)."""
        return bool(self._next) and (
            self._last_commit is None or self._clock() - self._last_commit >= self.interval_s)

    def take(self) -> list[TopicPartition]:
        """What to commit now; the interval restarts."""
        taken = [TopicPartition(topic, partition, offset) for (topic, partition), offset in sorted(self._next.items())]
        self._next.clear()
        self._last_commit = self._clock()
        return taken
