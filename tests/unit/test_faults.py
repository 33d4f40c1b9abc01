from switchyard.faults import FaultReport, ScenarioReport, Tally, sequence_of


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
