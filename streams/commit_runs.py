"""A fix for Faust's offset commits stalling after a rebalance.

Faust commits a partition up to the first run of consecutive offsets in its sorted list
of acknowledged offsets (`Consumer._new_offset`). After a rebalance that list can hold an
offset twice (its gap filling adds offsets that were also acknowledged), and its run
finder (`faust.utils.functional.consecutive_numbers`) ends a run at the repeat: the
commit then advances by one or two offsets per commit interval, far behind what was
processed (seen on input topics grown under load: committed 100 of 160 after a minute,
every offset acknowledged). Reported upstream as faust-streaming/faust#625-alike
("Offsets not committed due to duplicate in _acked").

Here a repeated offset continues its run. `_new_offset` removes ``len(run)`` entries from
the list and commits ``run[-1] + 1``, so the repeats go with their run and the commit
offset is the end of the consecutive range, as Faust means it to be.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import faust.transport.consumer


def runs_with_repeats(offsets: Iterable[int]) -> Iterator[list[int]]:
    """Runs of consecutive numbers in a sorted sequence; a repeat continues its run."""
    run: list[int] = []
    for n in offsets:
        if run and n > run[-1] + 1:
            yield run
            run = []
        run.append(n)
    if run:
        yield run


def install() -> None:
    """Makes Faust's consumer find its commit runs with `runs_with_repeats`."""
    faust.transport.consumer.consecutive_numbers = runs_with_repeats  # type: ignore[attr-defined,assignment]
