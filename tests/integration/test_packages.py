"""PackageTracker through Kafka and HTTP, against the real stack."""

from __future__ import annotations

import json

import httpx

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import topic
from tests.integration.kafka_driver import KafkaDriver

TOPIC = topic("package-location-updates")


def loc(where: str, when: str) -> str:
    return json.dumps({"timestamp": when, "location": where})


def test_locations_enrich_a_registered_package(kafka: KafkaDriver, ingress: httpx.Client, unique: str) -> None:
    pkg = f"{unique}-pkg"
    r = ingress.post(f"/PackageTracker/{pkg}/registerPackage", json={"finalDestination": "Bridge 6, Amsterdam"})
    assert r.status_code == 200, r.text
    outcomes = kafka.send(TOPIC, [(pkg, loc("Paris", "13:00")), (pkg, loc("Brussels", "14:00"))])
    assert [o.ok for o in outcomes] == [True, True]
    info = ingress.get(f"/PackageTracker/{pkg}/getPackageInfo").json()
    assert info == {
        "finalDestination": "Bridge 6, Amsterdam",
        "locations": [{"location": "Paris", "timestamp": "13:00"}, {"location": "Brussels", "timestamp": "14:00"}],
    }


def test_unregistered_package_fails_terminally_and_writes_nothing(
    kafka: KafkaDriver, ingress: httpx.Client, unique: str
) -> None:
    pkg = f"{unique}-ghost"
    [outcome] = kafka.send(TOPIC, [(pkg, loc("Nowhere", "00:00"))])
    assert not outcome.ok
    assert outcome.error == {"code": 404, "message": f"Package {pkg} not found"}
    assert ingress.get(f"/PackageTracker/{pkg}/getPackageInfo").status_code == 404


def test_bad_records_go_to_the_dlq_and_the_next_record_on_the_key_runs(
    kafka: KafkaDriver, ingress: httpx.Client, unique: str
) -> None:
    pkg = f"{unique}-pkg"
    ingress.post(f"/PackageTracker/{pkg}/registerPackage", json={"finalDestination": "Ghent"})
    not_json = b"\xffnot json"
    wrong_shape = json.dumps({"where": "Lille"}).encode()
    outcomes = kafka.send(TOPIC, [(pkg, not_json), (pkg, wrong_shape), (pkg, loc("Antwerp", "09:00"))])
    dead, shape, good = outcomes
    assert dead.dead_lettered
    assert (dead.record.key, dead.record.value) == (pkg.encode(), not_json)
    assert "Invalid JSON" in (dead.record.header("error.reason") or "")
    assert shape.dead_lettered
    assert shape.record.value == wrong_shape
    assert "location: Field required" in (shape.record.header("error.reason") or "")
    assert shape.record.header("source.topic") == TOPIC.name
    assert shape.record.header("source.offset") == str(shape.sent[2])
    assert good.ok
    info = ingress.get(f"/PackageTracker/{pkg}/getPackageInfo").json()
    assert info["locations"] == [{"location": "Antwerp", "timestamp": "09:00"}]


def test_registering_again_resets_the_package(kafka: KafkaDriver, ingress: httpx.Client, unique: str) -> None:
    pkg = f"{unique}-pkg"
    ingress.post(f"/PackageTracker/{pkg}/registerPackage", json={"finalDestination": "A"})
    kafka.send(TOPIC, [(pkg, loc("Paris", "13:00"))])
    ingress.post(f"/PackageTracker/{pkg}/registerPackage", json={"finalDestination": "B"})
    assert ingress.get(f"/PackageTracker/{pkg}/getPackageInfo").json() == {"finalDestination": "B", "locations": []}


def test_bad_http_body_gets_400_naming_the_field(ingress: httpx.Client, unique: str) -> None:
    r = ingress.post(f"/PackageTracker/{unique}/registerPackage", json={"destination": "x"})
    assert r.status_code == 400
    assert "finalDestination" in r.text


def test_results_stay_small_and_the_history_keeps_the_latest_locations(
    kafka: KafkaDriver, ingress: httpx.Client, settings: Settings, unique: str
) -> None:
    keep = settings.packages.max_locations
    pkg = f"{unique}-pkg"
    ingress.post(f"/PackageTracker/{pkg}/registerPackage", json={"finalDestination": "Ghent"})
    outcomes = kafka.send(TOPIC, [(pkg, loc(f"stop {n}", f"{n:04d}")) for n in range(keep + 3)])
    assert all(o.ok for o in outcomes)
    sizes = {len(o.record.value or b"") for o in outcomes}
    assert max(sizes) - min(sizes) < 20, sizes  # not growing with the history
    last = outcomes[-1].result
    assert last == {"finalDestination": "Ghent", "location": {"location": f"stop {keep + 2}",
                    "timestamp": f"{keep + 2:04d}"}, "locationCount": keep, "dropped": 1}
    info = ingress.get(f"/PackageTracker/{pkg}/getPackageInfo").json()
    assert [e["location"] for e in info["locations"]] == [f"stop {n}" for n in range(3, keep + 3)]
