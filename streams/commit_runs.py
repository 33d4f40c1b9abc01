"""A fix for Faust's offset commits stalling.

Faust commits a partition up to the first run of consecutive offsets in its sorted list
of acknowledged offsets (`Consumer._new_offset`). That list can hold an offset twice: its
gap filling (`_add_gap`, for offsets it never saw, such as transaction markers) adds the
offset after a gap, which is also acknowledged when processed. Its run finder
(`faust.utils.functional.consecutive_numbers`) ends a run at the repeat, so the commit
advances by one or two offsets per commit interval, far behind what was processed (seen
on input topics grown under load: committed 100 of 160 a minute on, every offset
acknowledged). Faust-streaming has reports of the same stall ("Offsets not committed due
to duplicate in _acked").

Here a repeated offset continues its run, and anything else than a repeat or the next
offset ends it (the list is sorted when Faust asks; a smaller number would be an ack that
arrived meanwhile, and ends the run as Faust's own finder would). `_new_offset` removes
``len(run)`` entries from the list and commits ``run[-1] + 1``, so the repeats go with
their run and the commit offset is the end of the consecutive range, as Faust means.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import faust.transport.consumer


def runs_with_repeats(offsets: Iterable[int]) -> Iterator[list[int]]:
    """Runs of consecutive numbers in a sorted sequence; a repeat continues its run."""
    run: list[int] = []
    for n in offsets:
        if run and n not in (run[-1], run[-1] + 1):
            yield run
            run = []
        run.append(n)
    if run:
        yield run


def install() -> None:
    """Makes Faust's consumer find its commit runs with `runs_with_repeats`."""
    faust.transport.consumer.consecutive_numbers = runs_with_repeats  # type: ignore[attr-defined,assignment]
