"""Payment signals demo: the seed's curl (a delayed payment settled by the provider's
signed webhook), a synchronous success and decline over HTTP, the same through
`payment-requests`, and webhooks through `payment-webhooks`: a duplicate (harmless) and a
forged one (refused). The provider is the local simulator unless real keys are set."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from producers.demos.base import DemoEnv, show_dead_letter, show_result
from schemas.catalogue import topic
from schemas.signals import PaymentRequest, WebhookEvent
from switchyard.simulators.provider import is_local

PAYMENTS = topic("payment-requests")
WEBHOOKS = topic("payment-webhooks")
# The seed README's body.
SEED = PaymentRequest(paymentMethodId="pm_card_visa", amount=109, delayedStatus=True)


def pay(env: DemoEnv, request: PaymentRequest, note: str) -> None:
    body = request.model_dump()
    env.say(f"  POST /PaymentService/processPayment  {json.dumps(body)}  ({note})")
    response = env.http.post("/PaymentService/processPayment", json=body)
    env.say(f"  -> {response.status_code} {response.text}")


def run(env: DemoEnv) -> None:
    env.say("PaymentService: a synchronous answer from the provider, or a durable wait for its signed webhook")
    pay(env, SEED, "the seed's curl: 'processing', then the webhook settles it")
    pay(env, SEED.model_copy(update={"delayedStatus": False}), "answered at once")
    pay(env, PaymentRequest(paymentMethodId="pm_card_visa_chargeDeclined", amount=109), "declined at once")

    run_id = uuid.uuid4().hex[:6]  # request ids are idempotency keys: fresh ones per run
    requests = [
        ("pm_card_visa", False), ("pm_card_visa_chargeDeclined", False),
        ("pm_card_visa", True), ("pm_card_visa_chargeDeclined", True),
    ]
    with env.reader([PAYMENTS.results, PAYMENTS.dlq]) as reader:
        env.send(PAYMENTS.name, [
            *((f"req-{run_id}-{n}", PaymentRequest(paymentMethodId=m, amount=200 + n, delayedStatus=d)
               .model_dump_json().encode()) for n, (m, d) in enumerate(requests)),
            (f"req-{run_id}-bad", b'{"paymentMethodId": "pm_card_visa"}'),
        ])
        records = env.wait(reader, {PAYMENTS.results: len(requests), PAYMENTS.dlq: 1})
    for record in records:
        (show_result if record.topic == PAYMENTS.results else show_dead_letter)(env, record)

    if is_local(env.settings.provider):
        webhooks_over_kafka(env)


def webhooks_over_kafka(env: DemoEnv) -> None:
    """The provider's last event again, through Kafka (the signature inside the value),
    and a copy signed with the wrong secret."""
    with httpx.Client(base_url=env.settings.provider.api_base, timeout=30) as sim:
        events: list[dict[str, Any]] = sim.get("/_sim/events").json()["data"]
        if not events:
            return
        last = events[-1]
        again = sim.post("/_sim/webhooks", json={"resend": last["id"], "deliver": False}).json()
        forged = sim.post("/_sim/webhooks", json={"resend": last["id"], "deliver": False,
                                                  "signature": "wrong-secret"}).json()
    env.say(f"  webhooks through {WEBHOOKS.name}: {last['type']} for {last['intentId']} again, and a forged copy")
    with env.reader([WEBHOOKS.results, WEBHOOKS.dlq]) as reader:
        send_webhook(env, last["id"], again)
        send_webhook(env, f"{last['id']}-forged", forged)
        env.producer.flush()
        records = env.wait(reader, {WEBHOOKS.results: 2})
    for record in records:
        show_result(env, record)


def send_webhook(env: DemoEnv, key: str, signed: dict[str, Any]) -> None:
    """Produces a webhook envelope, showing it shortened (the event body is long)."""
    value = WebhookEvent(payload=signed["payload"], signature=signed["signature"])
    env.say(f"  produce {WEBHOOKS.name}  {key}:{{\"payload\": \"<the event, {len(value.payload)} chars>\", "
            f"\"signature\": \"{str(value.signature)[:24]}...\"}}")
    env.producer.send(WEBHOOKS.name, key, value.model_dump_json().encode())
