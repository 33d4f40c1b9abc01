"""`switchyard dlq` against the real broker and service: dead letters are listed with
their reasons; a replay re-produces a record to its source topic once, it is processed
once, a second replay does nothing, and the DLQ is never changed. Two DLQ copies of one
source record (a dead letter published again after a crash) are one dead letter: listed
as copies, replayed once, whether in one run or in two."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import topic
from switchyard.cli.main import main as switchyard
from switchyard.core.envelope import DlqReason, SourceRecord
from switchyard.core.results import Record, TopicReader
from switchyard.ops.dlq import DlqTools, Selection
from switchyard.stack.stack import settings_env
from tests.integration.kafka_driver import KafkaDriver, source_of

# BenchCounter/add counts what it applies per key: "processed once" is visible in state.
BENCH = topic("bench-events")
POISON = "poison-pkg"  # conftest: retries.poison_keys, a simulated outage on every attempt

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Runs `switchyard dlq` against the test stack; returns (exit code, stdout, stderr)."""
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)

    def run(*argv: object) -> tuple[int, str, str]:
        code = switchyard(["dlq", *(str(a) for a in argv)])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def listed(cli: Cli) -> dict[tuple[int, int], dict[str, Any]]:
    code, out, err = cli("list", BENCH.name, "--json")
    assert code == 0, err
    return {(e["partition"], e["offset"]): e for e in json.loads(out)}


def counter(ingress: httpx.Client, key: str) -> dict[str, Any]:
    response = ingress.post(f"/BenchCounter/{key}/get", json=None)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_dead_letters_are_listed_with_their_reasons(kafka: KafkaDriver, cli: Cli, unique: str) -> None:
    bad, poisoned = kafka.send(BENCH, [(f"{unique}-bad", b'{"amount": "five"}'), (POISON, b'{"amount": 1}')])
    assert bad.dead_lettered
    assert poisoned.dead_lettered
    entries = listed(cli)
    for outcome, value, error_class, reason in (
        (bad, '{"amount": "five"}', "ValidationError", "amount: Input should be a valid integer"),
        (poisoned, '{"amount": 1}', "RetriesExhausted", "retries exhausted after 3 attempts"),
    ):
        e = entries[(outcome.record.partition, outcome.record.offset)]
        assert (e["key"], e["value"], e["errorClass"], e["replayed"]) == (outcome.key, value, error_class, False)
        assert reason in e["reason"]
        assert (e["source"]["topic"], e["source"]["partition"], e["source"]["offset"]) == outcome.sent
    code, out, _ = cli("list", f"{BENCH.name}-dlq", "--partition", bad.record.partition)
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith(f"{bad.record.partition}:{bad.record.offset} "))
    assert "ValidationError" in line
    assert "amount: Input should be a valid integer" in line


def dead_letter_from_an_old_release(
    settings: Settings, key: str, value: bytes, copies: int = 1
) -> list[tuple[int, int]]:
    """A dead letter as the sink writes it, left by a release whose bug is fixed now
    (here the record itself is valid, so a replay is processed normally); with ``copies``,
    published that many times, as a crash after the publish makes the sink do. Its source
    record is one of its own (an offset no real record of the test has)."""
    source = SourceRecord(topic=BENCH.name, partition=0, offset=10**12 + uuid.uuid4().int % 10**12)
    reason = DlqReason(reason="retries exhausted after 3 attempts: RuntimeError: counter store down",
                       error_class="RetriesExhausted", source=source)
    landed: list[tuple[int, int]] = []
    headers: list[tuple[str, str | bytes | None]] = list(reason.headers())
    producer = Producer({**settings.kafka.client_config(), "log_level": "3"})
    for _ in range(copies):
        producer.produce(BENCH.dlq, key=key.encode(), value=value, headers=headers,
                         on_delivery=lambda err, msg: landed.append((msg.partition() or 0, msg.offset() or 0)))
        assert producer.flush(30) == 0
    return landed


def test_a_replayed_dead_letter_is_processed_once_and_the_dlq_is_untouched(
    settings: Settings, ingress: httpx.Client, cli: Cli, unique: str
) -> None:
    key, value = f"{unique}-k", b'{"amount": 5}'
    ((p, o),) = dead_letter_from_an_old_release(settings, key, value)
    before = listed(cli)
    assert before[(p, o)]["replayed"] is False

    with TopicReader(settings.kafka.client_config(), [BENCH.name, BENCH.results]) as reader:
        code, out, err = cli("replay", BENCH.name, "--partition", p, "--from", o, "--to", o)
        assert code == 0, err
        assert out.startswith(f"replayed 1 record(s) from {BENCH.dlq} to {BENCH.name}")
        got = reader.collect(lambda rs: any(r.topic == BENCH.results and r.key_text == key for r in rs), timeout=60)
        # The second replay writes nothing: the record stays processed once.
        code, out, err = cli("replay", BENCH.name, "--partition", p, "--from", o, "--to", o)
        assert code == 0, err
        assert out.startswith("replayed 0 record(s)")
        assert "skipped 1 already replayed" in out
        got += reader.collect(lambda rs: False, timeout=6, idle=4)
    replayed = [r for r in got if r.topic == BENCH.name and r.key_text == key]
    assert [r.value for r in replayed] == [value]
    results = [r for r in got if r.topic == BENCH.results and r.key_text == key]
    assert len(results) == 1
    assert source_of(results[0]) == (BENCH.name, replayed[0].partition, replayed[0].offset)
    assert results[0].json()["ok"] is True
    assert counter(ingress, key) == {"total": 5, "count": 1}

    after = listed(cli)
    assert after[(p, o)]["replayed"] is True
    assert {k: {**e, "replayed": None} for k, e in after.items()} == \
        {k: {**e, "replayed": None} for k, e in before.items()}, "the DLQ changed"


def test_a_record_still_failing_is_replayed_once_and_dead_lettered_once_more(
    settings: Settings, kafka: KafkaDriver
) -> None:
    (first,) = kafka.send(BENCH, [(POISON, b'{"amount": 2}')])
    assert first.dead_lettered
    tools = DlqTools(settings)
    only = Selection(first.record.partition, first.record.offset, first.record.offset)
    with TopicReader(settings.kafka.client_config(), [BENCH.dlq]) as reader:
        report = tools.replay(BENCH, only)
        assert [(e.partition, e.offset) for e, _ in report.replayed] == [(first.record.partition, first.record.offset)]
        (landed,) = [(BENCH.name, *where) for _, where in report.replayed]
        again = tools.replay(BENCH, only)
        assert (again.replayed, [(e.partition, e.offset) for e, _ in again.skipped]) == \
            ([], [(first.record.partition, first.record.offset)])
        got = reader.collect(lambda rs: any(source_of(r) == landed for r in rs), timeout=60)
        got += reader.collect(lambda rs: False, timeout=6, idle=4)
    mine = [r for r in got if source_of(r) == landed]
    assert len(mine) == 1
    assert (mine[0].key_text, mine[0].value, mine[0].header("error.class")) == \
        (POISON, b'{"amount": 2}', "RetriesExhausted")


def replays_of(
    cli: Cli, reader: TopicReader, key: str, *runs: tuple[int, int, int], outcome: bool = True
) -> tuple[list[str], list[Record]]:
    """Runs `dlq replay --partition P --from N --to M` for each run; returns what each
    printed and every record of ``key`` on the bench topic and its results (an outcome
    waited for if one is expected, then 4 s more for anything extra)."""
    printed = []
    for p, first, last in runs:
        code, out, err = cli("replay", BENCH.name, "--partition", p, "--from", first, "--to", last)
        assert code == 0, err
        printed.append(out)
    got = []
    if outcome:
        got = reader.collect(lambda rs: any(r.topic == BENCH.results and r.key_text == key for r in rs), timeout=60)
    got += reader.collect(lambda rs: False, timeout=6, idle=4)
    return printed, [r for r in got if r.key_text == key]


def test_two_copies_of_a_dead_letter_in_one_replay_are_replayed_once(
    settings: Settings, ingress: httpx.Client, cli: Cli, unique: str
) -> None:
    key, value = f"{unique}-k", b'{"amount": 7}'
    (p, first), (q, copy) = dead_letter_from_an_old_release(settings, key, value, copies=2)
    assert p == q  # same key, same DLQ partition
    with TopicReader(settings.kafka.client_config(), [BENCH.name, BENCH.results]) as reader:
        (out,), mine = replays_of(cli, reader, key, (p, first, copy))
        # A second run re-produces nothing: the dead letter is replayed, both its copies.
        (again,), more = replays_of(cli, reader, key, (p, first, copy), outcome=False)
    replayed = [r for r in mine + more if r.topic == BENCH.name]
    assert [r.value for r in replayed] == [value]
    results = [r for r in mine + more if r.topic == BENCH.results]
    assert len(results) == 1
    assert source_of(results[0]) == (BENCH.name, replayed[0].partition, replayed[0].offset)
    assert counter(ingress, key) == {"total": 7, "count": 1}
    assert f"  {p}:{first} (key '{key}') -> {BENCH.name}[" in out
    assert f"  {p}:{copy} (key '{key}') copy of {p}:{first}" in out
    assert again.startswith("replayed 0 record(s)"), again
    # Listed as what they are: one dead letter, published twice, replayed.
    entries = listed(cli)
    assert (entries[(p, first)]["copyOf"], entries[(p, copy)]["copyOf"]) == (None, f"{p}:{first}")
    assert entries[(p, first)]["copies"] == entries[(p, copy)]["copies"] == 2
    assert entries[(p, first)]["replayed"] is entries[(p, copy)]["replayed"] is True


def test_a_copy_of_a_replayed_dead_letter_is_not_replayed_by_a_later_run(
    settings: Settings, ingress: httpx.Client, cli: Cli, unique: str
) -> None:
    key, value = f"{unique}-k", b'{"amount": 3}'
    (p, first), (_, copy) = dead_letter_from_an_old_release(settings, key, value, copies=2)
    with TopicReader(settings.kafka.client_config(), [BENCH.name, BENCH.results]) as reader:
        (out, later), mine = replays_of(cli, reader, key, (p, first, first), (p, copy, copy))
    assert [r.value for r in mine if r.topic == BENCH.name] == [value]
    assert len([r for r in mine if r.topic == BENCH.results]) == 1
    assert counter(ingress, key) == {"total": 3, "count": 1}
    assert out.startswith("replayed 1 record(s)"), out
    assert later.startswith("replayed 0 record(s)"), later
    assert f"  {p}:{copy} (key '{key}') replayed at " in later
    assert later.rstrip().endswith(f" as its copy {p}:{first}")
