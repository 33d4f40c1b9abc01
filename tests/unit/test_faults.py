from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faults.suite import FaultReport, ScenarioReport, Tally, all_back, key_waits, longest_wait, sequence_of


def test_the_tally_sees_loss_duplicates_and_disorder() -> None:
    tally = Tally()
    tally.add(produced=[0, 1, 2, 3], applied=[0, 2, 1, 2])
    assert (tally.processed, tally.lost, tally.duplicated, tally.order_violations) == (3, 1, 1, 1)


def test_a_clean_key_tallies_clean() -> None:
    tally = Tally()
    tally.add(produced=[0, 1, 2], applied=[0, 1, 2])
    assert (tally.processed, tally.lost, tally.duplicated, tally.order_violations) == (3, 0, 0, 0)


def test_markers_carry_the_sequence() -> None:
    assert sequence_of("all-in-turn-k3#41") == 41


def test_report_json_has_the_contract_fields() -> None:
    import json

    report = FaultReport([ScenarioReport("kafka", 10, 10, recovery_s=1.5)])
    [row] = json.loads(report.to_json())["scenarios"]
    assert {"name", "produced", "processed", "lost", "duplicated", "order_violations", "recovery_s"} <= row.keys()
    assert report.scenarios[0].clean
    assert not ScenarioReport("x", 10, 9, lost=1).clean


def test_a_saga_trip_counts_once_when_its_ledgers_are_right() -> None:
    from faults.suite import effect_count

    one = {"r1": "CONFIRMED"}
    assert effect_count("CONFIRMED", one, one, {"p1": "CHARGED"}, declined=False) == 1
    cancelled = {"r1": "CANCELLED"}
    assert effect_count("COMPENSATED", cancelled, cancelled, {}, declined=True) == 1


def test_a_saga_trip_reserved_twice_counts_twice_and_a_wrong_end_counts_zero() -> None:
    from faults.suite import effect_count

    twice = {"r1": "CONFIRMED", "r2": "CONFIRMED"}
    assert effect_count("CONFIRMED", twice, {"c": "CONFIRMED"}, {"p1": "CHARGED"}, declined=False) == 2
    # a declined card that still left a charge, or a compensated trip whose car stayed booked
    assert effect_count("COMPENSATED", {"r": "CANCELLED"}, {"c": "CANCELLED"}, {"p": "CHARGED"}, declined=True) == 0
    assert effect_count("COMPENSATED", {"r": "CANCELLED"}, {"c": "CONFIRMED"}, {}, declined=True) == 0
    assert effect_count("CONFIRMED", {"r": "CONFIRMED"}, {"c": "CONFIRMED"}, {"p": "REFUNDED"}, declined=False) == 0


def test_saga_records_are_trips_of_their_own_and_alternate_cards() -> None:
    from faults.suite import ACCEPTED_CARD, DECLINED_CARD, payload, record_key

    assert record_key("trip-bookings", "svc-k1", 3) == "svc-k1-t3"
    assert record_key("package-location-updates", "svc-k1", 3) == "svc-k1"
    assert payload("trip-bookings", "svc-k1#2")["paymentInfo"]["cardNumber"] == ACCEPTED_CARD
    assert payload("trip-bookings", "svc-k1#3")["paymentInfo"]["cardNumber"] == DECLINED_CARD


def test_poison_records_never_run_and_cover_keys_of_every_kind() -> None:
    """The poison storm's records (switchyard.faults.generated): a generated key with a bad
    value, or a key that cannot run with a good value; never a good key with a good value."""
    import json

    from faults.suite import FLOWS, payload
    from schemas.catalogue import topic
    from switchyard.faults.generated import is_utf8, key_runs
    from switchyard.faults.outcomes import poison_batch

    for name in FLOWS:  # plain-service payments included
        t = topic(name)
        good = json.dumps(payload(name, "poison#0")).encode()
        assert t.parse(good)
        batch = poison_batch(t, 60, good)
        assert len(batch) == 60
        assert not any(r.runs_on(t) for r in batch), name
        keys = [r.key for r in batch]
        assert None in keys, name
        assert any(k is not None and not is_utf8(k) for k in keys), name
        # valid keys too, and ones that trip a decoder: not ASCII
        assert any(key_runs(k) and not (k or b"").isascii() for k in keys), name
        assert any(r.value == good for r in batch), name
        assert any(r.value != good for r in batch), name
    # the same records run to run
    t = topic(FLOWS[0])
    good = json.dumps(payload(FLOWS[0], "poison#0")).encode()
    poison_batch.cache_clear()
    assert poison_batch(t, 60, good) == poison_batch.__wrapped__(t, 60, good)


def test_generated_keys_and_values_follow_the_oracle() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from schemas.catalogue import topic
    from switchyard.faults.generated import bad_keys, bad_values, good_values, is_utf8, valid_keys

    t = topic("task-queue")

    @settings(max_examples=60, database=None, deadline=None)
    @given(st.tuples(valid_keys(), bad_keys(), good_values(t), bad_values(t)))
    def check(drawn: tuple[bytes, bytes | None, bytes, bytes | None]) -> None:
        good_key, bad_key, good_value, bad_value = drawn
        assert good_key
        assert is_utf8(good_key)
        assert not bad_key or not is_utf8(bad_key)
        t.parse(good_value)
        try:
            t.parse(bad_value or b"")
        except ValueError:
            return
        raise AssertionError(f"{bad_value!r} passes the schema")

    check()


def test_recovery_is_the_longest_any_flowing_key_waited_after_the_fault() -> None:
    """A lost broker stops only the keys on the partitions it led: a count over all results
    would hide their wait behind the other keys' results."""
    steady = [float(t) for t in range(0, 30)]  # a result every second throughout
    stalled = [0.5, 1.5, 2.5, 14.0, 15.0]  # waits from the fault at 3.0 until 14.0
    one_off = [1.0]  # a saga's key: one result, never a flow
    late = [20.0, 21.0]  # first result after the fault: not flowing before it
    assert longest_wait([steady, stalled, one_off, late], since=3.0, until=10.0, now=30.0) == 11.0
    assert longest_wait([steady], since=3.0, until=10.0, now=30.0) == 1.0
    # Still waiting: counted up to now.
    assert longest_wait([[0.0, 1.0]], since=3.0, until=10.0, now=25.0) == 22.0
    # Each flowing key's own wait, for the median key: the one-off and the late key are none.
    assert key_waits([steady, stalled, one_off, late], since=3.0, until=10.0, now=30.0) == [1.0, 11.0]


# Per key, the moments its results arrived (sorted), for the recovery properties below.
ARRIVALS = st.lists(st.lists(st.floats(0, 100), min_size=2, max_size=20).map(sorted), max_size=8)


@given(ARRIVALS, st.floats(0, 100), st.floats(0, 50))
def test_recovery_is_at_least_every_flowing_keys_first_wait(per_key: list[list[float]], since: float,
                                                           span: float) -> None:
    until, now = since + span, since + span + 10
    wait = longest_wait(per_key, since, until, now)
    for times in per_key:
        if times[0] <= since:
            first = next((t for t in times if t > since), now)
            assert wait >= round(first - since, 2) - 0.01


def test_a_degraded_cluster_is_measured_once_every_flowing_key_is_back() -> None:
    """The degraded window opens when each key flowing before the first loss has a result
    after the last one: any one key's result would open it while others still wait."""
    steady, stalled, one_off = [0.0, 1.0, 12.0], [0.5, 1.5, 2.5], [1.0]
    assert not all_back([steady, stalled, one_off], since=2.0, after=10.0)
    assert all_back([steady, [*stalled, 11.0], one_off], since=2.0, after=10.0)
    assert all_back([[5.0, 6.0]], since=2.0, after=10.0)  # not flowing before the loss


@given(st.lists(st.lists(st.floats(0, 100), min_size=1, max_size=20).map(sorted), max_size=8),
       st.floats(0, 100), st.floats(0, 50))
def test_every_key_back_means_no_flowing_key_still_waits(per_key: list[list[float]], since: float,
                                                        span: float) -> None:
    after = since + span
    waiting = [t for t in per_key if len(t) > 1 and t[0] <= since and not any(x > after for x in t)]
    assert all_back(per_key, since, after) == (not waiting)


def test_the_cli_hands_its_rate_keys_and_downtime_to_the_suite(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    """`switchyard faults --downtime 25`: a killed part stays down that long (its restart kept
    out of the failover being timed); the other timings stay the mode's."""
    import faults.suite
    from switchyard.cli.main import main

    seen: dict[str, Any] = {}

    def run_suite(home: Path, names: list[str], keys: int, rate: float, timings: Any,
                  cluster: bool = False) -> FaultReport:
        seen.update(names=names, keys=keys, rate=rate, timings=timings, cluster=cluster)
        return FaultReport(cluster=cluster)

    monkeypatch.setattr(faults.suite, "run_suite", run_suite)
    out = tmp_path / "faults.json"
    assert main(["faults", "--cluster", "--only", "kafka-broker", "--rate", "20", "--keys", "5",
                 "--downtime", "25", "--out", str(out)]) == 0
    assert seen["names"] == ["kafka-broker"]
    assert (seen["keys"], seen["rate"], seen["cluster"]) == (5, 20.0, True)
    assert seen["timings"].downtime == 25.0
    assert seen["timings"].warmup == 4.0  # the full mode's
    assert main(["faults", "--quick", "--only", "kafka", "--out", str(out)]) == 0
    assert seen["timings"].downtime == 1.0


@given(ARRIVALS, st.floats(0, 100), st.floats(0, 50))
def test_each_flowing_key_has_one_wait_and_the_longest_is_the_recovery(per_key: list[list[float]], since: float,
                                                                         span: float) -> None:
    until, now = since + span, since + span + 10
    waits = key_waits(per_key, since, until, now)
    assert len(waits) == sum(1 for times in per_key if times[0] <= since)
    assert all(w >= 0 for w in waits)
    assert longest_wait(per_key, since, until, now) == round(max(waits, default=0.0), 2)
