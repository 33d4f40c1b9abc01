"""ProductService demo: reservations through Kafka, then the seed's client over HTTP with
idempotency keys; a product is reserved once, the same reservation is answered `true` again."""

from __future__ import annotations

import json

from producers.demos.base import DemoEnv, show_dead_letter, show_result
from producers.reservations import reserve
from schemas.catalogue import topic

TOPIC = topic("product-reservations")


def run(env: DemoEnv) -> None:
    env.say("ProductService: durable RPC, each product reserved once, deduplicated by reservation id")
    with env.reader([TOPIC.results, TOPIC.dlq]) as reader:
        env.send(TOPIC.name, [
            ("product1", json.dumps({"reservationId": rid}).encode()) for rid in ("res-1", "res-2", "res-1")
        ])
        env.send(TOPIC.name, [("product1", b'{"reservation": "res-3"}')])
        records = env.wait(reader, {TOPIC.results: 3, TOPIC.dlq: 1})
    for record in records:
        (show_result if record.topic == TOPIC.results else show_dead_letter)(env, record)
    env.show("POST /ProductService/product1/getReservation", env.call("/ProductService/product1/getReservation"))

    env.say("  the seed's client over HTTP (switchyard reserve product2 order-1 order-2 order-1):")
    for rid in ("order-1", "order-2", "order-1"):
        granted = reserve(env.http, "product2", rid)
        env.say(f"  POST /ProductService/product2/reserve  idempotency-key: {rid}  -> {json.dumps(granted)}")
    env.show("POST /ProductService/product2/getReservation", env.call("/ProductService/product2/getReservation"))
