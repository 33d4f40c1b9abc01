"""Faust's commit runs (streams/commit_runs.py): a repeated acknowledged offset no longer
ends the run a commit goes up to."""

from __future__ import annotations

import itertools

import faust.transport.consumer
from hypothesis import given
from hypothesis import strategies as st

from streams import commit_runs
from streams.app import create_app
from streams.settings import StreamsSettings


@given(st.lists(st.integers(0, 60), max_size=40))
def test_the_first_run_is_the_consecutive_range_repeats_included(offsets: list[int]) -> None:
    acked = sorted(offsets)
    runs = list(commit_runs.runs_with_repeats(acked))
    assert [n for run in runs for n in run] == acked  # every entry in exactly one run, in order
    for run in runs:
        assert all(b - a in (0, 1) for a, b in itertools.pairwise(run))
    for before, after in itertools.pairwise(runs):
        assert after[0] > before[-1] + 1  # runs end only at a gap
    if acked:
        # What Faust commits: the end of the consecutive range from the smallest offset.
        distinct = sorted(set(acked))
        end = distinct[0]
        while end + 1 in distinct:
            end += 1
        assert runs[0][-1] + 1 == end + 1


def test_faust_as_seen_stalling_commits_past_the_whole_range() -> None:
    acked = [133, 134, 134, 135, 136, 137]  # the list seen in a stalled worker
    assert next(commit_runs.runs_with_repeats(acked))[-1] + 1 == 138


def test_a_smaller_offset_ends_the_run_as_faust_would() -> None:
    assert next(commit_runs.runs_with_repeats([100, 101, 102, 99])) == [100, 101, 102]


def test_the_stream_worker_installs_it(tmp_path: object) -> None:
    create_app(StreamsSettings(), tmp_path)  # type: ignore[arg-type]
    assert vars(faust.transport.consumer)["consecutive_numbers"] is commit_runs.runs_with_repeats
