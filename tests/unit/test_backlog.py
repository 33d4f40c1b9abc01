"""The downstream lag the key gate holds its reads by (switchyard/core/backlog.py): a
standing queue holds, a burst does not."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from switchyard.core.backlog import INTERVAL, STALE_AFTER, DownstreamLag


class Clocks:
    def __init__(self) -> None:
        self.wall = 1_000.0
        self.mono = 0.0
        self.lag = DownstreamLag(wall=lambda: self.wall, clock=lambda: self.mono)

    def deliver(self, waited: float, after: float = 0.1) -> None:
        """A copy that waited ``waited`` s is run ``after`` s after the previous one."""
        self.mono += after
        self.wall += after
        self.lag.observe(int((self.wall - waited) * 1000))


LAGS = st.lists(st.floats(0.0, 30.0), min_size=1, max_size=60)


@given(lags=LAGS, above=st.floats(0.0, 5.0), most=st.floats(0.0, 5.0))
def test_the_hold_stays_within_its_bound_and_what_was_seen(lags: list[float], above: float, most: float) -> None:
    clocks = Clocks()
    for waited in lags:
        clocks.deliver(waited)
        hold = clocks.lag.hold(above, most)
        assert 0.0 <= hold <= most
        assert hold == 0.0 or above < hold <= max(lags) + 0.002 or hold == most


@given(lags=st.lists(st.floats(0.0, 0.5), min_size=1, max_size=60))
def test_waits_under_the_threshold_never_hold(lags: list[float]) -> None:
    clocks = Clocks()
    for waited in lags:
        clocks.deliver(waited)
        assert clocks.lag.hold(0.5, 2.0) == 0.0


@given(lags=st.lists(st.floats(0.6, 10.0), min_size=int(2 * INTERVAL / 0.1) + 1, max_size=60))
def test_a_standing_queue_holds(lags: list[float]) -> None:
    clocks = Clocks()
    for waited in lags:
        clocks.deliver(waited)
    assert clocks.lag.hold(0.5, 2.0) > 0.5


def test_a_burst_draining_promptly_does_not_hold() -> None:
    """The gate's own copies after a hold arrive at once and drain in turn, waits from none
    to the drain time: under the threshold at the median, that is not a backlog, or each
    hold would cause the next."""
    clocks = Clocks()
    for _ in range(5):  # five seconds of bursts, each drained within 0.9 s
        for i in range(20):
            clocks.deliver(0.9 * i / 19, after=0.05)
        assert clocks.lag.hold(0.5, 2.0) == 0.0


def test_the_hold_is_the_queue_wait_capped() -> None:
    clocks = Clocks()
    for _ in range(25):
        clocks.deliver(1.5)
    assert abs(clocks.lag.hold(0.5, 2.0) - 1.5) < 0.002
    assert clocks.lag.hold(0.5, 1.0) == 1.0
    assert clocks.lag.hold(0.5, 0.0) == 0.0  # hold_max 0: never
    assert clocks.lag.hold(2.0, 3.0) == 0.0


def test_without_deliveries_the_backlog_is_taken_as_gone() -> None:
    clocks = Clocks()
    assert clocks.lag.hold(0.1, 2.0) == 0.0  # nothing seen yet
    for _ in range(25):
        clocks.deliver(3.0)
    assert clocks.lag.hold(0.1, 2.0) > 0
    clocks.mono += STALE_AFTER + 0.1
    assert clocks.lag.hold(0.1, 2.0) == 0.0
    clocks.deliver(3.0, after=0.0)  # after a quiet spell an interval starts afresh
    assert clocks.lag.hold(0.1, 2.0) == 0.0


def test_a_copy_without_a_timestamp_or_from_the_future_adds_no_wait() -> None:
    clocks = Clocks()
    clocks.lag.observe(None)
    for _ in range(25):
        clocks.deliver(-5.0)  # another machine's clock ahead
    assert clocks.lag.seconds() == 0.0
