"""Records of one key queued together run in one invocation (`gate.batch_records`), and
each still gets the outcome it would have alone: in order, exactly one each, a bad one
dead-lettered without holding back the records after it, nothing applied twice."""

from __future__ import annotations

import json
from collections import Counter

import httpx

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import topic
from switchyard.core.admin import RestateAdmin
from switchyard.core.results import TopicReader
from tests.integration.kafka_driver import KafkaDriver, source_of

PACKAGES = topic("package-location-updates")
COUNT = 40
BAD = 17  # this one's location is not a string


def test_a_keys_queued_records_share_invocations_with_one_outcome_each_in_order(
    kafka: KafkaDriver, ingress: httpx.Client, admin: RestateAdmin, settings: Settings, unique: str
) -> None:
    assert settings.gate.batch_records > 1, "the stack under test batches (the default)"
    pkg = f"{unique}-pkg"
    assert ingress.post(f"/PackageTracker/{pkg}/registerPackage", json={"finalDestination": "Oslo"}).status_code == 200
    stops = [json.dumps({"location": n if n == BAD else f"stop {n}", "timestamp": f"{n}"}) for n in range(COUNT)]

    with TopicReader(settings.kafka.client_config(), [PACKAGES.results, PACKAGES.dlq]) as reader:
        outcomes = kafka.send(PACKAGES, [(pkg, stop) for stop in stops])
        # Every outcome since before the send, and a moment more for a second one to show.
        seen = reader.collect(lambda rs: False, timeout=3.0)

    assert [o.dead_lettered for o in outcomes] == [n == BAD for n in range(COUNT)]
    good = [o for n, o in enumerate(outcomes) if n != BAD]
    assert all(o.ok for o in good)
    # In order, one at a time: each result counts the locations applied so far.
    assert [o.result["locationCount"] for o in good] == list(range(1, COUNT))  # type: ignore[index]
    expected = [f"stop {n}" for n in range(COUNT) if n != BAD]
    assert [o.result["location"]["location"] for o in good] == expected  # type: ignore[index]
    sent = {o.sent for o in outcomes}
    per_source = Counter(source_of(r) for r in seen if source_of(r) in sent)
    assert per_source == dict.fromkeys(sent, 1), "a record without exactly one outcome"

    info = ingress.get(f"/PackageTracker/{pkg}/getPackageInfo").json()
    assert [loc["location"] for loc in info["locations"]] == expected
    # Fewer invocations than records: the queued records travelled together.
    runs = admin.query(f"SELECT id FROM sys_invocation WHERE target = '{PACKAGES.target}' "
                       f"AND target_service_key = '{pkg}'")
    assert len(runs) < COUNT, f"{len(runs)} invocations for {COUNT} records: none shared one"
