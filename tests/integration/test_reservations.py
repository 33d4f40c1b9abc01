"""ProductService (durable RPC) through Kafka and HTTP, against the real stack."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from handlers.settings import ExampleStackSettings as Settings
from producers.demos import reservations as demo
from producers.reservations import reserve
from schemas.catalogue import topic
from switchyard.cli.main import main as cli
from tests.integration.conftest import SceneOutput
from tests.integration.kafka_driver import KafkaDriver

TOPIC = topic("product-reservations")


def wants(reservation_id: str) -> str:
    return json.dumps({"reservationId": reservation_id})


def holder(ingress: httpx.Client, product: str) -> object:
    r = ingress.post(f"/ProductService/{product}/getReservation")
    assert r.status_code == 200, r.text
    return r.json()["reservationId"]


def test_repeated_and_interleaved_reservations_through_kafka(kafka: KafkaDriver, ingress: httpx.Client,
                                                             unique: str) -> None:
    a, b = f"{unique}-a", f"{unique}-b"
    outcomes = kafka.send(TOPIC, [(a, wants("r1")), (b, wants("r2")), (a, wants("r2")), (a, wants("r1")),
                                  (b, wants("r1")), (b, wants("r2"))])
    assert [o.ok for o in outcomes] == [True] * 6
    assert [o.result for o in outcomes] == [True, True, False, True, False, True]
    assert (holder(ingress, a), holder(ingress, b)) == ("r1", "r2")


def test_idempotency_key_plays_the_reservation_over_http(ingress: httpx.Client, unique: str) -> None:
    product = f"{unique}-p"
    path = f"/ProductService/{product}/reserve"
    # The seed's client: no body, only the idempotency key.
    first = ingress.post(path, headers={"idempotency-key": "k1"})
    again = ingress.post(path, headers={"idempotency-key": "k1"})
    other = ingress.post(path, headers={"idempotency-key": "k2"})
    assert [r.status_code for r in (first, again, other)] == [200, 200, 200]
    assert [first.json(), again.json(), other.json()] == [True, True, False]
    # The same key is the same invocation, which is what the product remembers.
    assert holder(ingress, product) == first.headers["x-restate-id"] == again.headers["x-restate-id"]


def test_http_and_kafka_reservations_with_one_id_are_one_reservation(
    kafka: KafkaDriver, ingress: httpx.Client, unique: str
) -> None:
    product = f"{unique}-p"
    assert reserve(ingress, product, "order-7") is True
    assert reserve(ingress, product, "order-8") is False
    outcomes = kafka.send(TOPIC, [(product, wants("order-7")), (product, wants("order-9"))])
    assert [o.result for o in outcomes] == [True, False]
    assert holder(ingress, product) == "order-7"


def test_concurrent_reservations_of_one_product_grant_exactly_one(ingress: httpx.Client, unique: str) -> None:
    product = f"{unique}-p"
    ids = [f"res-{n}" for n in range(8)]
    with ThreadPoolExecutor(len(ids)) as pool:
        answers = dict(zip(ids, pool.map(lambda rid: reserve(ingress, product, rid), ids), strict=True))
    winners = [rid for rid, granted in answers.items() if granted]
    assert len(winners) == 1
    assert holder(ingress, product) == winners[0]
    # Every loser asking again is still refused; the winner is still granted.
    assert {rid: reserve(ingress, product, rid) for rid in ids} == answers


def test_bad_records_go_to_the_dlq_and_change_nothing(kafka: KafkaDriver, ingress: httpx.Client, unique: str) -> None:
    product = f"{unique}-p"
    bad = [b"\xffnot json", json.dumps({"reservation": "r1"}).encode(), json.dumps({"reservationId": ""}).encode(),
           b""]
    outcomes = kafka.send(TOPIC, [*((product, v) for v in bad), (product, wants("r9"))])
    assert [o.dead_lettered for o in outcomes] == [True, True, True, True, False]
    assert [o.record.value for o in outcomes[:4]] == bad
    assert "reservationId" in (outcomes[1].record.header("error.reason") or "")
    assert outcomes[4].result is True
    assert holder(ingress, product) == "r9"


def test_bad_http_body_gets_400_naming_the_field(ingress: httpx.Client, unique: str) -> None:
    r = ingress.post(f"/ProductService/{unique}-p/reserve", json={"reservation": "x"})
    assert r.status_code == 400
    assert "reservationId" in r.text
    assert holder(ingress, f"{unique}-p") is None


def test_reserve_command_prints_each_answer(settings: Settings, unique: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    product = f"{unique}-p"
    code = cli(["reserve", product, "r1", "r2", "r1", "--ingress", settings.restate.ingress_url])
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{product} r1: reserved (True)", f"{product} r2: refused (False)", f"{product} r1: reserved (True)",
    ]


def test_demo_scene_runs(scene_output: SceneOutput) -> None:
    text = scene_output(demo.run)
    assert "product-reservations-dlq" in text
    assert "idempotency-key: order-2  -> false" in text
