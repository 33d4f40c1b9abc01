"""`switchyard dlq` without a broker: what it accepts, the errors naming the bad topic or
argument, how it prints dead letters and replays, and how it tells one dead letter's
copies (one source record dead-lettered twice) apart from other dead letters."""

from __future__ import annotations

import pytest

from schemas.catalogue import topic
from switchyard.cli.main import main as switchyard
from switchyard.core.envelope import ReplayMarker, SourceRecord
from switchyard.ops.dlq import (
    DeadLetter,
    DlqEntry,
    DlqError,
    ReplayReport,
    Selection,
    plan_replay,
    replay_marker,
    source_topic,
    summary,
    table,
    with_copies,
)

NO_SOURCE = SourceRecord(topic="", partition=-1, offset=-1)  # what a DLQ record without source headers reads as


def entry(partition: int = 0, offset: int = 3, **changes: object) -> DlqEntry:
    fields: dict[str, object] = {
        "dlqTopic": "bench-events-dlq", "partition": partition, "offset": offset, "timestamp": 1_700_000_000_123,
        "key": "k1", "value": '{"amount": "five"}', "reason": "amount: Input should be a valid integer",
        "errorClass": "ValidationError", "source": SourceRecord(topic="bench-events", partition=1, offset=9),
    }
    return DlqEntry.model_validate({**fields, **changes})


def test_the_topic_is_named_by_its_input_topic_or_its_dlq() -> None:
    assert source_topic("bench-events").name == "bench-events"
    assert source_topic("bench-events-dlq").name == "bench-events"
    with pytest.raises(DlqError, match="topic: unknown input topic 'bench-events-results'; known: social-media"):
        source_topic("bench-events-results")


@pytest.mark.parametrize(("partition", "first", "last", "message"), [
    (None, 3, None, "--from and --to go together"),
    (None, None, 3, "--from and --to go together"),
    (None, 5, 3, "--from 5 is after --to 3"),
    (None, -1, 3, "--from: expected an offset >= 0, got -1"),
    (-2, None, None, "--partition: expected a partition >= 0, got -2"),
])
def test_a_bad_selection_names_the_argument(partition: int | None, first: int | None, last: int | None,
                                            message: str) -> None:
    with pytest.raises(DlqError, match=message):
        Selection(partition, first, last)


def test_a_selection_is_everything_or_an_inclusive_range() -> None:
    assert Selection().bounds is None
    assert not Selection(partition=1).is_range
    assert Selection(0, 4, 4).bounds == (4, 4)


@pytest.mark.parametrize(("argv", "message"), [
    (["replay", "nope", "--all"], "switchyard: error: topic: unknown input topic 'nope'"),
    (["replay", "bench-events"], "switchyard: error: replay: give --all or --from N --to M (not both)"),
    (["replay", "bench-events", "--all", "--from", "1", "--to", "2"],
     "switchyard: error: replay: give --all or --from N"),
    (["list", "bench-events", "--to", "2"], "switchyard: error: --from and --to go together"),
    (["replay", "bench-events", "--from", "9", "--to", "2"], "switchyard: error: --from 9 is after --to 2"),
])
def test_bad_input_fails_before_kafka_with_a_clear_message(argv: list[str], message: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert switchyard(["dlq", *argv]) == 2
    assert capsys.readouterr().err.startswith(message)


def test_the_list_table_shows_where_when_why_and_what() -> None:
    letters = [DeadLetter(entry(), b"k1", b'{"amount": "five"}'),
               DeadLetter(entry(1, 0, key=None, value="x" * 100, replayed=True), None, b"x" * 100)]
    header, first, second = table(letters).splitlines()
    assert header.split() == ["p:offset", "dead-lettered", "(UTC)", "key", "class", "reason", "value", "replayed",
                              "copy", "of"]
    assert first.split()[:5] == ["0:3", "2023-11-14", "22:13:20.123Z", "k1", "ValidationError"]
    assert "amount: Input should be a valid integer" in first
    assert first.rstrip().endswith('{"amount": "five"}')
    assert second.startswith("1:0 ")
    assert "(none)" in second
    assert "x" * 39 + "…" in second
    assert second.endswith("yes")


def test_a_replay_report_says_what_went_where_and_what_was_skipped() -> None:
    marker = ReplayMarker(dlqTopic="bench-events-dlq", dlqPartition=0, dlqOffset=2, sourceTopic="bench-events",
                          replayedAt=1_700_000_000_000)
    report = ReplayReport("bench-events-dlq", "bench-events", replayed=[(entry(), (1, 41))],
                          skipped=[(entry(offset=2), marker)])
    assert report.lines() == [
        "replayed 1 record(s) from bench-events-dlq to bench-events",
        "  0:3 (key 'k1') -> bench-events[1]@41",
        "skipped 1 already replayed (each dead letter is replayed once, whichever copy)",
        "  0:2 (key 'k1') replayed at 2023-11-14 22:13:20.000Z",
    ]


def test_a_workflow_replay_says_the_workflow_runs_once_per_key() -> None:
    report = ReplayReport("trip-bookings-dlq", "trip-bookings", replayed=[(entry(), (0, 1))], skipped=[],
                          note="BookingWorkflow/run is a workflow: it runs once per key")
    assert report.lines()[-1] == "note: BookingWorkflow/run is a workflow: it runs once per key"
    assert ReplayReport("d", "s", [], [], note="x").lines() == ["replayed 0 record(s) from d to s"]


def letter(e: DlqEntry) -> DeadLetter:
    return DeadLetter(e, (e.key or "").encode(), e.value.encode())


def test_a_dead_letter_is_its_source_record_or_else_the_dlq_record_itself() -> None:
    assert entry().origin == "bench-events:1:9"
    assert entry(2, 7, source=NO_SOURCE).origin == "2:7"  # made by hand: its own DLQ coordinates
    assert entry(source=SourceRecord(topic="bench-events", partition=-1, offset=9)).origin == "0:3"


def test_two_dlq_records_of_one_source_record_are_copies_of_one_dead_letter() -> None:
    other = SourceRecord(topic="bench-events", partition=0, offset=9)
    letters = with_copies([letter(entry(1, 4)), letter(entry(0, 3)), letter(entry(0, 5, source=other)),
                           letter(entry(0, 6, source=NO_SOURCE)), letter(entry(0, 7, source=NO_SOURCE))], {})
    got = [(d.entry.slot, d.entry.copyOf, d.entry.copies, d.entry.replayed, d.marker) for d in letters]
    assert got == [
        ("0:3", None, 2, False, None),
        ("0:5", None, 1, False, None),  # another source record
        ("0:6", None, 1, False, None),  # no source headers: a dead letter of its own,
        ("0:7", None, 1, False, None),  # even with the same key and value
        ("1:4", "0:3", 2, False, None),
    ]


def marker(partition: int, offset: int, source: SourceRecord | None = None) -> ReplayMarker:
    return ReplayMarker(dlqTopic="bench-events-dlq", dlqPartition=partition, dlqOffset=offset,
                        sourceTopic="bench-events", replayedAt=1_700_000_000_000, source=source)


@pytest.mark.parametrize("key", ["bench-events:1:9", "0:3", "0:4"])
def test_a_dead_letter_replayed_by_one_copy_is_replayed_for_every_copy(key: str) -> None:
    """Keyed by the source record (this release), or by the DLQ record of either copy (an
    older release's marker)."""
    m = marker(0, 3)
    letters = with_copies([letter(entry(0, 3)), letter(entry(0, 4)), letter(entry(0, 5, source=NO_SOURCE))],
                          {key: m})
    assert [(d.entry.replayed, d.marker) for d in letters] == [(True, m), (True, m), (False, None)]


def test_a_replay_sends_one_copy_of_each_dead_letter_and_skips_those_replayed() -> None:
    done = marker(0, 1)
    letters = with_copies([letter(entry(0, 3)), letter(entry(0, 4)), letter(entry(0, 8)),
                           letter(entry(0, 1, source=SourceRecord(topic="bench-events", partition=1, offset=2))),
                           letter(entry(0, 2, source=SourceRecord(topic="bench-events", partition=1, offset=2))),
                           letter(entry(0, 5, source=NO_SOURCE)), letter(entry(0, 6, source=NO_SOURCE))],
                          {"bench-events:1:2": done})
    plan = plan_replay(letters)
    assert [d.entry.slot for d in plan.fresh] == ["0:3", "0:5", "0:6"]
    assert [(copy.slot, first.slot) for copy, first in plan.copies] == [("0:4", "0:3"), ("0:8", "0:3")]
    assert [(e.slot, m) for e, m in plan.skipped] == [("0:1", done), ("0:2", done)]
    # A selection without the first copy replays the first chosen one.
    assert [d.entry.slot for d in plan_replay(letters[3:]).fresh] == ["0:4", "0:5", "0:6"]


def test_the_marker_is_keyed_by_the_source_record_and_names_the_copy_sent() -> None:
    bench = topic("bench-events")
    e = entry(0, 4)
    m = replay_marker(bench, e, 1_700_000_000_000)
    assert (e.origin, m) == ("bench-events:1:9", marker(0, 4, e.source))
    assert ReplayMarker.model_validate_json(m.model_dump_json()) == m
    hand_made = entry(0, 5, source=NO_SOURCE)
    assert (hand_made.origin, replay_marker(bench, hand_made, 1_700_000_000_000)) == ("0:5", marker(0, 5))
    # An older release's marker (no source) still reads.
    assert ReplayMarker.model_validate_json(marker(0, 2).model_dump_json(exclude={"source"})) == marker(0, 2)


def test_copies_are_listed_as_copies() -> None:
    letters = with_copies([letter(entry(0, 3)), letter(entry(0, 4)), letter(entry(0, 5, source=NO_SOURCE))],
                          {"bench-events:1:9": marker(0, 3)})
    rows = table(letters).splitlines()
    assert rows[0].split()[-2:] == ["copy", "of"]
    assert rows[1].rstrip().endswith("yes")  # the first: replayed, no copy of another
    assert rows[2].split()[-2:] == ["yes", "0:3"]  # its copy: replayed (by 0:3), a copy of 0:3
    assert rows[3].rstrip().endswith('{"amount": "five"}')
    assert summary("bench-events-dlq", letters) == (
        "bench-events-dlq: 3 record(s), 1 of them copies of another (one source record dead-lettered again "
        "after a crash; a replay sends each source record once)")
    assert summary("bench-events-dlq", letters[2:]) == "bench-events-dlq: 1 record(s)"


def test_a_replay_report_lists_copies_not_sent_and_copies_sent_before() -> None:
    report = ReplayReport("bench-events-dlq", "bench-events", replayed=[(entry(0, 3), (1, 41))],
                          skipped=[(entry(0, 6), marker(0, 2))], copies=[(entry(0, 4), entry(0, 3))])
    assert report.lines() == [
        "replayed 1 record(s) from bench-events-dlq to bench-events",
        "  0:3 (key 'k1') -> bench-events[1]@41",
        "skipped 1 copy(ies) of a record replayed above (the same source record, dead-lettered twice)",
        "  0:4 (key 'k1') copy of 0:3",
        "skipped 1 already replayed (each dead letter is replayed once, whichever copy)",
        "  0:6 (key 'k1') replayed at 2023-11-14 22:13:20.000Z as its copy 0:2",
    ]
