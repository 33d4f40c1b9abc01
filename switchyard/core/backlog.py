"""How far behind the invocations of the key gate's copies run, and how long the gate
may hold its reads because of it.

The gate batches a key's records only within one read, and it reads as soon as records
arrive: when restate-server and the service fall behind (more invocations offered than
two cores run), the backlog waits in Restate as one invocation per record, the most
expensive shape. The sinks see that backlog directly: a delivery of a routed copy
arrives that long after the gate produced the copy. While the deliveries of the last
second waited more than `hold_above` (their median), the gate keeps reading for as long (at most
`hold_max`) before it copies, so a key's records of that time travel together. A
record held here would have waited as long in Restate's queue, so holding costs it
little, and each invocation then carries several records (docs/benchmarks.md, "Third
round").

Per process: the gate and the sinks of one service process share it. Another replica's
sinks may run this gate's copies, but a backlog is the whole deployment's, so each
process's own sinks see about the same.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

# The estimate is the median wait of the last complete interval: a backlog delays most
# copies, while a burst (the gate's own copies after a hold) drains with waits from none
# to its drain time, about half of it at the median, so a hold leads to another only when
# its burst alone is more than twice `hold_above` of work: when there is a backlog.
INTERVAL = 1.0
# Without a delivery for this long the estimate is stale: the backlog is gone (or the
# sinks stopped), and the gate goes back to copying at once. No longer than an interval:
# a burst's backlog, drained, held the first two seconds of the next load.
STALE_AFTER = INTERVAL
# Waits kept per interval for the median (a sample of the interval's first ones beyond).
MAX_SAMPLES = 2048


class DownstreamLag:
    """How long routed copies wait before their invocation runs: the median wait of the
    last complete interval."""

    def __init__(self, wall: Callable[[], float] = time.time, clock: Callable[[], float] = time.monotonic) -> None:
        self._wall = wall
        self._clock = clock
        self._window_start: float | None = None
        self._window: list[float] = []
        self._last = 0.0
        self._seen_at: float | None = None

    def observe(self, produced_ms: int | None) -> None:
        """A routed copy produced at ``produced_ms`` (its Kafka timestamp) is being run now."""
        if produced_ms is None:
            return
        lag = max(0.0, self._wall() - produced_ms / 1000)
        now = self._clock()
        if self._window_start is None or now - self._window_start >= INTERVAL:
            # The interval just ended counts only if deliveries ran up to now: after a quiet
            # spell it describes a backlog that is gone.
            ended = (self._window_start is not None and self._seen_at is not None
                     and now - self._seen_at <= STALE_AFTER and now - self._window_start < 2 * INTERVAL)
            self._last = statistics.median_low(self._window) if ended and self._window else 0.0
            self._window_start, self._window = now, []
        if len(self._window) < MAX_SAMPLES:
            self._window.append(lag)
        self._seen_at = now

    def seconds(self) -> float:
        """The estimate; 0 once stale."""
        if self._seen_at is None or self._clock() - self._seen_at > STALE_AFTER:
            return 0.0
        return self._last

    def hold(self, above: float, most: float) -> float:
        """How long the gate may keep reading before it copies: the backlog's wait once it
        is over ``above``, at most ``most``; 0 below it."""
        lag = self.seconds()
        return min(lag, most) if most > 0 and lag > above else 0.0


DOWNSTREAM = DownstreamLag()  # this process's: the sinks observe, the gate holds
