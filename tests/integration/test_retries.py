"""Retries that end: a key whose records always fail ends in the DLQ with its last error,
and other keys keep flowing meanwhile."""

from __future__ import annotations

import json

import httpx

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import topic
from tests.integration.kafka_driver import KafkaDriver

PACKAGES = topic("package-location-updates")
POSTS = topic("social-media-posts")


def loc(where: str) -> str:
    return json.dumps({"timestamp": "10:00", "location": where})


def test_a_poison_key_ends_in_the_dlq_and_other_keys_flow(
    kafka: KafkaDriver, ingress: httpx.Client, settings: Settings, unique: str
) -> None:
    assert "poison-pkg" in settings.retries.poison_keys
    good = f"{unique}-pkg"
    assert ingress.post(f"/PackageTracker/{good}/registerPackage", json={"finalDestination": "Lyon"}).status_code == 200
    records = [("poison-pkg", loc("Nowhere 1")), (good, loc("Paris")), ("poison-pkg", loc("Nowhere 2")),
               (good, loc("Dijon"))]
    poison1, ok1, poison2, ok2 = kafka.send(PACKAGES, records, timeout=60)

    assert ok1.ok
    assert ok2.ok
    for dead, value in ((poison1, records[0][1]), (poison2, records[2][1])):
        assert dead.dead_lettered
        assert dead.record.value == value.encode()  # the original bytes, replayable
        assert dead.record.header("error.class") == "RetriesExhausted"
        reason = dead.record.header("error.reason") or ""
        assert f"after {settings.retries.max_attempts} attempts" in reason
        assert "simulated outage" in reason
    # The good key was not queued behind the poison key's retries.
    assert ok2.record.timestamp_ms < poison2.record.timestamp_ms
    info = ingress.get(f"/PackageTracker/{good}/getPackageInfo").json()
    assert [e["location"] for e in info["locations"]] == ["Paris", "Dijon"]


def test_poison_posts_change_no_feed(kafka: KafkaDriver, ingress: httpx.Client) -> None:
    [dead] = kafka.send(POSTS, [("poison-user", json.dumps({"content": "x", "metadata": "public"}))], timeout=60)
    assert dead.dead_lettered
    assert ingress.post("/UserFeed/poison-user/getFeed").json() == []
