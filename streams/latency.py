"""Pairs input records with their results to measure end-to-end latency.

A `-results` record names its input in ``source: {topic, partition, offset}``; its own
timestamp is when the outcome was written. The input agent and the results agent each
report what they see here, in whichever order the consumer delivers them, and the second
of a pair yields the latency.

The pending sides live in memory, bounded: a pair is only a sample, and a sample lost to
a restart or to eviction (an input whose topic has no handler never gets a result) costs
nothing but that sample; the counts live in the changelogged tables.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

Coords = tuple[str, int, int]  # (topic, partition, offset) of an input record


@dataclass(frozen=True)
class Pair:
    input_ms: int
    result_ms: int

    @property
    def latency_ms(self) -> int:
        return max(0, self.result_ms - self.input_ms)


class LatencyJoin:
    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._inputs: OrderedDict[Coords, int] = OrderedDict()
        self._results: OrderedDict[Coords, int] = OrderedDict()

    def input_seen(self, coords: Coords, ts_ms: int) -> Pair | None:
        result_ms = self._results.pop(coords, None)
        if result_ms is not None:
            return Pair(ts_ms, result_ms)
        self._remember(self._inputs, coords, ts_ms)
        return None

    def result_seen(self, coords: Coords, ts_ms: int) -> Pair | None:
        input_ms = self._inputs.pop(coords, None)
        if input_ms is not None:
            return Pair(input_ms, ts_ms)
        self._remember(self._results, coords, ts_ms)
        return None

    def forget(self, coords: Coords) -> None:
        """A dead-lettered input will never have a result."""
        self._inputs.pop(coords, None)

    def pending(self) -> tuple[int, int]:
        return len(self._inputs), len(self._results)

    def _remember(self, side: OrderedDict[Coords, int], coords: Coords, ts_ms: int) -> None:
        side[coords] = ts_ms
        while len(side) > self.capacity:
            side.popitem(last=False)  # the oldest: its partner is the least likely to come
