"""Only a subscription delivery is a Kafka record. The ingress passes request headers
through, so an HTTP caller can send every header Restate sets on a delivery (`kafka.*`,
`restate.subscription.id`); such a call is a plain HTTP call: it reports nothing on the
`-results` topic and leaves nothing a later Kafka record relies on (its applied mark, its
idempotency key)."""

from __future__ import annotations

import base64
import json

import httpx

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import topic
from switchyard.core.results import TopicReader
from tests.integration.kafka_driver import KafkaDriver

PACKAGES = topic("package-location-updates")
FANOUT = topic("fanout-tasks")
FORGED_OFFSET = 999_999_999


def forged(t_name: str, key: str, partition: int) -> dict[str, str]:
    return {
        "kafka.topic": t_name, "kafka.partition": str(partition), "kafka.offset": str(FORGED_OFFSET),
        "kafka.key": base64.urlsafe_b64encode(key.encode()).decode(), "kafka.timestamp": "1",
        "restate.subscription.id": "sub_1forgedforgedforgedforged", "content-type": "application/json",
    }


def test_forged_kafka_headers_cannot_make_a_package_update_vanish(
    settings: Settings, kafka: KafkaDriver, ingress: httpx.Client, unique: str
) -> None:
    pkg = f"{unique}-pkg"
    assert ingress.post(f"/PackageTracker/{pkg}/registerPackage", json={"finalDestination": "Ghent"}).status_code == 200
    with TopicReader(settings.kafka.client_config(), [PACKAGES.results, PACKAGES.dlq]) as reader:
        for partition in range(settings.kafka.topic_partitions):
            body = json.dumps({"timestamp": "09:00", "location": f"Forged {partition}"})
            answer = ingress.post(f"/PackageTracker/{pkg}/updateLocation", content=body,
                                  headers=forged(PACKAGES.name, pkg, partition))
            assert answer.status_code == 200, answer.text  # an HTTP call, answered as one
        # The real record after it is applied and reported, not skipped as "already applied".
        [real] = kafka.send(PACKAGES, [(pkg, json.dumps({"timestamp": "10:00", "location": "Real"}))])
        seen = reader.collect(lambda rs: False, 2.0)
    assert real.ok, real.record.value
    forged_outcomes = [r for r in seen if r.key == pkg.encode() and r.json()["source"]["offset"] == FORGED_OFFSET]
    assert forged_outcomes == []
    locations = [e["location"] for e in ingress.get(f"/PackageTracker/{pkg}/getPackageInfo").json()["locations"]]
    assert locations[-1] == "Real"


def test_forged_kafka_headers_cannot_take_a_service_records_idempotency_key(
    settings: Settings, kafka: KafkaDriver, ingress: httpx.Client, unique: str
) -> None:
    job = f"{unique}-job"
    with TopicReader(settings.kafka.client_config(), [FANOUT.results]) as reader:
        answer = ingress.post("/FanOutWorker/run", content=json.dumps({"description": "forged"}),
                              headers=forged(FANOUT.name, job, 0))
        assert answer.status_code == 200, answer.text
        [real] = kafka.send(FANOUT, [(job, json.dumps({"description": "a,b"}))])
        seen = reader.collect(lambda rs: False, 2.0)
    # Had the forged call been taken for a record with key `job`, the real record would get
    # the forged body's outcome under the same idempotency key.
    assert real.ok
    assert isinstance(real.result, dict)
    assert real.result["aggregate"] == "a: DONE, b: DONE"
    assert [r for r in seen if r.json()["source"]["offset"] == FORGED_OFFSET] == []
