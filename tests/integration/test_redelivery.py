"""A record delivered twice is applied once: here, through a second subscription that reads
the topic itself beside the key gate's routed copy (what the seed README's subscription
curl creates on a bootstrapped stack)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import topic
from switchyard.core.admin import RestateAdmin
from switchyard.core.results import TopicReader
from tests.integration.kafka_driver import KafkaDriver, group_at_end, group_caught_up

TOPIC = topic("package-location-updates")


def loc(where: str) -> str:
    return json.dumps({"timestamp": "12:00", "location": where})


@pytest.fixture
def duplicate_subscription(admin: RestateAdmin, settings: Settings, unique: str) -> Iterator[str]:
    # From the topic's end: the session's earlier records include other tests' binary keys,
    # at which a subscription reading the topic itself halts (the key gate's reason to be).
    group_at_end(settings.kafka.client_config(), f"sub_{unique}", TOPIC.name)
    created = admin.create_subscription(
        f"kafka://my-cluster/{TOPIC.name}", TOPIC.sink, {"auto.offset.reset": "earliest", "group.id": f"sub_{unique}"}
    )
    yield str(created["options"]["group.id"])
    admin.delete_subscription(created["id"])


def test_a_second_subscription_applies_nothing_twice(
    kafka: KafkaDriver, ingress: httpx.Client, settings: Settings, unique: str, duplicate_subscription: str
) -> None:
    pkg = f"{unique}-pkg"
    assert ingress.post(f"/PackageTracker/{pkg}/registerPackage", json={"finalDestination": "Ghent"}).status_code == 200
    results = TopicReader(settings.kafka.client_config(), [TOPIC.results])
    outcomes = kafka.send(TOPIC, [(pkg, loc("Paris")), (pkg, loc("Lille"))])
    assert all(o.ok for o in outcomes)

    deadline = time.monotonic() + 60
    while not group_caught_up(settings.kafka.client_config(), duplicate_subscription, TOPIC.name):
        assert time.monotonic() < deadline, "the duplicate subscription never caught up"
        time.sleep(0.5)

    info = ingress.get(f"/PackageTracker/{pkg}/getPackageInfo").json()
    assert [entry["location"] for entry in info["locations"]] == ["Paris", "Lille"]
    with results:
        ours = results.collect(lambda rs: False, timeout=2.0)
    per_source = [json.dumps(r.json()["source"]) for r in ours if r.key == pkg.encode()]
    assert len(per_source) == 2 == len(set(per_source)), per_source
