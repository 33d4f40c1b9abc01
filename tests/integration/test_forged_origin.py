"""Only a subscription delivery is a Kafka record. The ingress passes request headers
through, so an HTTP caller can send every header Restate sets on a delivery (`kafka.*`,
`restate.subscription.id`); such a call is a plain HTTP call: it reports nothing on the
`-results` topic and leaves nothing a later Kafka record relies on (its applied mark, its
idempotency key)."""

from __future__ import annotations

import json
import string

import httpx
from hypothesis import strategies as st

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import topic
from switchyard.core.keys import header_key
from switchyard.core.results import TopicReader
from tests.integration.kafka_driver import KafkaDriver, source_of
from tests.integration.test_bad_input import draw

PACKAGES = topic("package-location-updates")
FANOUT = topic("fanout-tasks")
FORGED_OFFSET = 999_999_999


def forged(t_name: str, key: str, partition: int) -> dict[str, str]:
    return {
        "kafka.topic": t_name, "kafka.partition": str(partition), "kafka.offset": str(FORGED_OFFSET),
        "kafka.key": header_key(key.encode()), "kafka.timestamp": "1",
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


# What a hostile caller can vary: which of a delivery's headers it sends, their names' case,
# repeats of them with other values, and Restate's own ingress marker with any value.
ORIGIN_HEADERS = ("kafka.topic", "kafka.partition", "kafka.offset", "kafka.key", "kafka.timestamp",
                  "restate.subscription.id", "x-restate-ingress-path")
HEADER_VALUES = st.text(alphabet=string.ascii_letters + string.digits + "-_=/.:", max_size=24)
PLACEHOLDER = "placeholder-key"
PLACEHOLDER_HEADER = header_key(PLACEHOLDER.encode())


def any_case(name: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(name, upper, strict=True)))


def hostile_headers(t_name: str) -> st.SearchStrategy[list[tuple[str, str]]]:
    """A delivery's headers (some left out, names in any case; the key PLACEHOLDER's) plus
    repeats and Restate's ingress marker with made-up values."""
    delivery = {k: v for k, v in forged(t_name, PLACEHOLDER, 0).items() if k != "content-type"}
    kept = st.sets(st.sampled_from(sorted(delivery)), min_size=1).map(sorted)

    def with_value(name: str) -> st.SearchStrategy[tuple[str, str]]:
        return any_case(name).map(lambda cased: (cased, delivery[name]))

    named = kept.flatmap(lambda names: st.tuples(*(with_value(n) for n in names)))
    extra = st.lists(st.tuples(st.sampled_from(ORIGIN_HEADERS).flatmap(any_case), HEADER_VALUES), max_size=3)
    return st.tuples(named, extra).map(lambda ne: [*ne[0], *ne[1]])


def test_generated_forged_headers_never_make_an_http_call_a_kafka_record(
    settings: Settings, kafka: KafkaDriver, ingress: httpx.Client, unique: str
) -> None:
    """Each generated header set goes on a plain HTTP call to an object sink and a service
    sink, under a key of its own: none may report an outcome (one under those keys would be
    a forged delivery taken for real), and a real record afterwards is applied."""
    pkg = f"{unique}-pkg"
    assert ingress.post(f"/PackageTracker/{pkg}/registerPackage", json={"finalDestination": "Ghent"}).status_code == 200
    calls = [(PACKAGES, f"/PackageTracker/{pkg}/updateLocation", pkg, {"timestamp": "09:00", "location": "Forged"}),
             (FANOUT, "/FanOutWorker/run", f"{unique}-job", {"description": "forged"})]
    forged_keys: set[bytes] = set()
    topics = [PACKAGES.results, PACKAGES.dlq, FANOUT.results, FANOUT.dlq]
    with TopicReader(settings.kafka.client_config(), topics) as reader:
        for t, path, key, body in calls:
            for n, headers in enumerate(draw(hostile_headers(t.name), 15)):
                # A key of its own per call, or (every other object call) the object's own key:
                # a forged applied mark must not make the real record below a repeat.
                own = pkg if t is PACKAGES and n % 2 else f"{key}-{n}"
                forged_keys.add(own.encode())
                sent = [(k, header_key(own.encode()) if v == PLACEHOLDER_HEADER else v) for k, v in headers]
                answer = ingress.post(path, content=json.dumps(body),
                                      headers=[("content-type", "application/json"), *sent])
                assert answer.status_code == 200, (sent, answer.text)  # a plain call, answered as one
        [real] = kafka.send(PACKAGES, [(pkg, json.dumps({"timestamp": "10:00", "location": "Real"}))])
        seen = reader.collect(lambda rs: False, 2.0)
    assert real.ok, real.record.value
    taken = [(r.topic, r.key, r.value) for r in seen if r.key in forged_keys and source_of(r) != real.sent]
    assert taken == []
    locations = [e["location"] for e in ingress.get(f"/PackageTracker/{pkg}/getPackageInfo").json()["locations"]]
    assert locations[-1] == "Real"
