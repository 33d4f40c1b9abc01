"""How far behind the invocations of the key gate's copies run, and how long the gate
may hold its reads because of it.

The gate batches a key's records only within one read, and it reads as soon as records
arrive: when restate-server and the service fall behind (more invocations offered than
two cores run), the backlog waits in Restate as one invocation per record, the most
expensive shape. The sinks see that backlog directly: a delivery of a routed copy
arrives this long after the gate produced the copy. While it is over `hold_above`, the
gate keeps reading for as long (at most `hold_max`) before it copies, so a key's
records of that time travel together. A record held here would have waited as long in
Restate's queue, so holding costs it little, and each invocation then carries several
records (docs/benchmarks.md, "Third round").

Per process: the gate and the sinks of one service process share it. Another replica's
sinks may run this gate's copies, but a backlog is the whole deployment's, so each
process's own sinks see about the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# Weight of a new observation: smooths single slow invocations (a replay, a retry).
SMOOTHING = 0.2
# Without a delivery for this long the estimate is stale: the backlog is gone (or the
# sinks stopped), and the gate goes back to copying at once.
STALE_AFTER = 2.0


class DownstreamLag:
    """A smoothed estimate of how long routed copies wait before their invocation runs."""

    def __init__(self, wall: Callable[[], float] = time.time, clock: Callable[[], float] = time.monotonic) -> None:
        self._wall = wall
        self._clock = clock
        self._seconds = 0.0
        self._seen_at: float | None = None

    def observe(self, produced_ms: int | None) -> None:
        """A routed copy produced at ``produced_ms`` (its Kafka timestamp) is being run now."""
        if produced_ms is None:
            return
        lag = max(0.0, self._wall() - produced_ms / 1000)
        fresh = self._seen_at is not None and self._clock() - self._seen_at <= STALE_AFTER
        self._seconds = self._seconds + SMOOTHING * (lag - self._seconds) if fresh else lag
        self._seen_at = self._clock()

    def seconds(self) -> float:
        """The current estimate; 0 once stale."""
        if self._seen_at is None or self._clock() - self._seen_at > STALE_AFTER:
            return 0.0
        return self._seconds

    def hold(self, above: float, most: float) -> float:
        """How long the gate may keep reading before it copies: the backlog's wait once it
        is over ``above``, at most ``most``; 0 below it."""
        lag = self.seconds()
        return min(lag, most) if most > 0 and lag > above else 0.0


DOWNSTREAM = DownstreamLag()  # this process's: the sinks observe, the gate holds
