"""`switchyard dlq` without a broker: what it accepts, the errors naming the bad topic or
argument, and how it prints dead letters and replays."""

from __future__ import annotations

import pytest

from switchyard.cli.main import main as switchyard
from switchyard.core.envelope import ReplayMarker, SourceRecord
from switchyard.ops.dlq import DeadLetter, DlqEntry, DlqError, ReplayReport, Selection, source_topic, table


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
    assert header.split() == ["p:offset", "dead-lettered", "(UTC)", "key", "class", "reason", "value", "replayed"]
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
        "skipped 1 already replayed (each DLQ record is replayed once)",
        "  0:2 (key 'k1') replayed at 2023-11-14 22:13:20.000Z",
    ]


def test_a_workflow_replay_says_the_workflow_runs_once_per_key() -> None:
    report = ReplayReport("trip-bookings-dlq", "trip-bookings", replayed=[(entry(), (0, 1))], skipped=[],
                          note="BookingWorkflow/run is a workflow: it runs once per key")
    assert report.lines()[-1] == "note: BookingWorkflow/run is a workflow: it runs once per key"
    assert ReplayReport("d", "s", [], [], note="x").lines() == ["replayed 0 record(s) from d to s"]
