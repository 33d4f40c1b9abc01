"""PackageTracker demo: register package1, two location events, then the package info."""

from __future__ import annotations

from producers.demos.base import DemoEnv, show_dead_letter, show_result
from producers.packages import SEED_DEMO
from schemas.catalogue import topic

TOPIC = topic("package-location-updates")


def run(env: DemoEnv) -> None:
    env.say("PackageTracker: state enriched over HTTP and Kafka, queryable over HTTP")
    env.call("/PackageTracker/package1/registerPackage", {"finalDestination": "Bridge 6, Amsterdam"})
    with env.reader([TOPIC.results, TOPIC.dlq]) as reader:
        env.send(TOPIC.name, [(k, v.model_dump_json().encode()) for k, v in SEED_DEMO])
        env.send(TOPIC.name, [("package1", b"not json"), ("unregistered", SEED_DEMO[0][1].model_dump_json().encode())])
        records = env.wait(reader, {TOPIC.results: len(SEED_DEMO) + 1, TOPIC.dlq: 1})
    for record in records:
        (show_result if record.topic == TOPIC.results else show_dead_letter)(env, record)
    env.show("POST /PackageTracker/package1/getPackageInfo", env.call("/PackageTracker/package1/getPackageInfo"))
