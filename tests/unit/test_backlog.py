"""The downstream lag the key gate holds its reads by (switchyard/core/backlog.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from switchyard.core.backlog import STALE_AFTER, DownstreamLag


class Clocks:
    def __init__(self) -> None:
        self.wall = 1_000.0
        self.mono = 0.0

    def lag(self) -> DownstreamLag:
        return DownstreamLag(wall=lambda: self.wall, clock=lambda: self.mono)


LAGS = st.lists(st.floats(0.0, 30.0), min_size=1, max_size=30)


@given(lags=LAGS, above=st.floats(0.0, 5.0), most=st.floats(0.0, 5.0))
def test_the_hold_never_exceeds_its_bound_nor_the_backlog(lags: list[float], above: float, most: float) -> None:
    clocks = Clocks()
    lag = clocks.lag()
    for seconds in lags:
        clocks.mono += 0.1
        lag.observe(int((clocks.wall - seconds) * 1000))
        hold = lag.hold(above, most)
        assert 0.0 <= hold <= most
        assert hold <= lag.seconds() + 1e-9
        assert hold == 0.0 or lag.seconds() > above
        assert min(lags) - 0.002 <= lag.seconds() <= max(lags) + 0.002  # a smoothed value of what was seen


def test_a_backlog_over_the_threshold_holds_and_one_under_it_does_not() -> None:
    clocks = Clocks()
    lag = clocks.lag()
    lag.observe(int((clocks.wall - 1.5) * 1000))
    assert abs(lag.hold(0.5, 2.0) - 1.5) < 0.002
    assert lag.hold(0.5, 1.0) == 1.0
    assert lag.hold(0.5, 0.0) == 0.0  # hold_max 0: never
    assert lag.hold(2.0, 3.0) == 0.0


def test_without_deliveries_the_backlog_is_taken_as_gone() -> None:
    clocks = Clocks()
    lag = clocks.lag()
    assert lag.hold(0.1, 2.0) == 0.0  # nothing seen yet
    lag.observe(int((clocks.wall - 3.0) * 1000))
    clocks.mono += STALE_AFTER + 0.1
    assert lag.hold(0.1, 2.0) == 0.0
    lag.observe(int((clocks.wall - 0.2) * 1000))  # a fresh start, not smoothed with the stale value
    assert abs(lag.seconds() - 0.2) < 0.002


def test_a_copy_without_a_timestamp_or_from_the_future_adds_no_wait() -> None:
    clocks = Clocks()
    lag = clocks.lag()
    lag.observe(None)
    assert lag.seconds() == 0.0
    lag.observe(int((clocks.wall + 5) * 1000))  # another machine's clock ahead
    assert lag.seconds() == 0.0
