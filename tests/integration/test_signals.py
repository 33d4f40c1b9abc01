"""Payment signals against the real stack: PaymentService/processPayment and
/processWebhook through Kafka and HTTP, with the provider simulator standing in for the
provider (the real `stripe` library talks to it and checks its signatures)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from handlers.settings import ExampleStackSettings as Settings
from producers.demos import signals as demo
from schemas.catalogue import topic
from switchyard.stack.ephemeral import ephemeral_settings
from switchyard.stack.stack import Stack
from tests.integration.conftest import SceneOutput
from tests.integration.kafka_driver import KafkaDriver

PAYMENTS = topic("payment-requests")
WEBHOOKS = topic("payment-webhooks")
DECLINED = "Payment declined: requires_payment_method - Your card was declined."
JSON = dict[str, Any]


class Simulator:
    """The provider simulator's test hooks (`/_sim/...`)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def intents(self) -> list[JSON]:
        data: list[JSON] = self.http.get("/_sim/intents").json()["data"]
        return data

    def intent(self, intent_id: str) -> JSON:
        return next(i for i in self.intents() if i["id"] == intent_id)

    def intents_for(self, amount: int) -> list[JSON]:
        return [i for i in self.intents() if i["amount"] == amount]

    def events_for(self, intent_id: str) -> list[JSON]:
        events: list[JSON] = self.http.get("/_sim/events").json()["data"]
        return [e for e in events if e["intentId"] == intent_id]

    def webhook(self, **request: Any) -> JSON:
        response = self.http.post("/_sim/webhooks", json=request)
        assert response.status_code == 200, response.text
        body: JSON = response.json()
        return body


@pytest.fixture(scope="module")
def sim(settings: Settings) -> Iterator[Simulator]:
    with httpx.Client(base_url=settings.provider.api_base, timeout=30) as http:
        yield Simulator(http)


def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def an_amount() -> int:
    """Amounts tell this test's intents apart in the simulator's list."""
    return random.randint(10_000, 99_999_999)


def request(method: str, amount: int, delayed: bool = False) -> JSON:
    return {"paymentMethodId": method, "amount": amount, "delayedStatus": delayed}


def delivered(sim: Simulator, intent_id: str, statuses: list[int]) -> list[JSON]:
    """Waits until the provider's own webhooks for the intent got these HTTP statuses."""
    events = eventually(lambda: [e for e in sim.events_for(intent_id) if e["deliveries"]])
    assert [e["deliveries"] for e in events] == [statuses], events
    return list(events)


def forged(intent: JSON, **changes: Any) -> JSON:
    """An event of the provider's shape for an intent, with the intent changed."""
    return {"id": f"evt_forged{random.randint(0, 10**9)}", "object": "event", "type": "payment_intent.payment_failed",
            "data": {"object": {**intent, **changes}}}


def test_payment_succeeds_synchronously(ingress: httpx.Client, sim: Simulator) -> None:
    response = ingress.post("/PaymentService/processPayment", json=request("pm_card_visa", 109))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "succeeded"
    assert result["confirmedBy"] == "response"
    intent = sim.intent(result["paymentIntentId"])
    assert (intent["status"], intent["amount"]) == ("succeeded", 109)
    assert intent["metadata"]["restate_callback_id"].startswith("sign_1")
    # The provider announces every payment; the webhook for one already settled is harmless.
    [event] = delivered(sim, intent["id"], [200])
    assert event["type"] == "payment_intent.succeeded"


def test_payment_declined_over_kafka(kafka: KafkaDriver, sim: Simulator, unique: str) -> None:
    amount = an_amount()
    [outcome] = kafka.send(PAYMENTS, [(f"{unique}-r", json.dumps(request("pm_card_visa_chargeDeclined", amount)))])
    assert not outcome.ok
    assert outcome.error == {"code": 402, "message": DECLINED}
    [intent] = sim.intents_for(amount)
    assert intent["status"] == "requires_payment_method"


def test_request_id_charges_once(kafka: KafkaDriver, sim: Simulator, unique: str) -> None:
    amount = an_amount()
    record = (f"{unique}-r", json.dumps(request("pm_card_visa", amount)))
    first, again = kafka.send(PAYMENTS, [record, record])
    assert first.ok
    assert again.ok
    assert first.result == again.result
    [intent] = sim.intents_for(amount)
    [event] = delivered(sim, intent["id"], [200])
    # The provider's Idempotency-Key: the invocation id Restate derives from the request id.
    assert json.loads(event["payload"])["request"]["idempotency_key"].startswith("inv_")


def test_delayed_success_via_webhook(kafka: KafkaDriver, sim: Simulator, unique: str) -> None:
    amount = an_amount()
    [outcome] = kafka.send(PAYMENTS, [(f"{unique}-r", json.dumps(request("pm_card_visa", amount, delayed=True)))])
    assert outcome.ok, outcome.error
    assert isinstance(outcome.result, dict)
    assert outcome.result["confirmedBy"] == "webhook"
    [event] = delivered(sim, str(outcome.result["paymentIntentId"]), [200])
    assert event["type"] == "payment_intent.succeeded"


def test_delayed_decline_via_webhook(ingress: httpx.Client, sim: Simulator) -> None:
    amount = an_amount()
    response = ingress.post("/PaymentService/processPayment",
                            json=request("pm_card_visa_chargeDeclined", amount, delayed=True))
    assert response.status_code == 402, response.text
    assert DECLINED in response.text
    [intent] = sim.intents_for(amount)
    [event] = delivered(sim, intent["id"], [200])
    assert event["type"] == "payment_intent.payment_failed"


def test_webhook_arriving_before_the_handler_waits(ingress: httpx.Client, sim: Simulator) -> None:
    # The simulator delivers this one's webhook before it even answers "processing".
    amount = an_amount()
    response = ingress.post("/PaymentService/processPayment", json=request("pm_card_visa_earlyWebhook", amount))
    assert response.status_code == 200, response.text
    assert response.json()["confirmedBy"] == "webhook"
    [intent] = sim.intents_for(amount)
    delivered(sim, intent["id"], [200])


def test_duplicate_webhooks_change_nothing(
    ingress: httpx.Client, kafka: KafkaDriver, sim: Simulator, unique: str
) -> None:
    amount = an_amount()
    pay = request("pm_card_visa_chargeDeclined", amount, delayed=True)
    headers = {"idempotency-key": f"{unique}-pay"}
    first = ingress.post("/PaymentService/processPayment", json=pay, headers=headers)
    assert first.status_code == 402, first.text
    [intent] = sim.intents_for(amount)
    [event] = delivered(sim, intent["id"], [200])

    # The provider retries deliveries: the same event again over HTTP, twice...
    for _ in range(2):
        again = sim.webhook(resend=event["id"])
        assert again["delivery"]["status"] == 200, again
        assert json.loads(again["delivery"]["body"])["handled"] is True
    # ... and over Kafka, the same event id twice and once under another key.
    signed = sim.webhook(resend=event["id"], deliver=False)
    envelope = json.dumps({"payload": signed["payload"], "signature": signed["signature"]})
    outcomes = kafka.send(WEBHOOKS, [(event["id"], envelope), (event["id"], envelope), (f"{unique}-copy", envelope)])
    assert [o.ok for o in outcomes] == [True, True, True], [o.error for o in outcomes]

    # The payment's outcome stands, and the provider was charged once.
    replay = ingress.post("/PaymentService/processPayment", json=pay, headers=headers)
    assert (replay.status_code, replay.text) == (first.status_code, first.text)
    assert len(sim.intents_for(amount)) == 1


@pytest.fixture
def held_payment(settings: Settings, sim: Simulator) -> Iterator[tuple[Future[httpx.Response], JSON]]:
    """A payment waiting for a webhook the simulator holds back until told to send it."""
    amount = an_amount()
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=settings.restate.ingress_url, timeout=60) as http:
        waiting = pool.submit(http.post, "/PaymentService/processPayment",
                              json=request("pm_card_visa_heldWebhook", amount))
        intents = eventually(lambda: sim.intents_for(amount))
        assert intents, "the payment never reached the provider"
        yield waiting, intents[0]
        if not waiting.done():  # never leave an invocation waiting behind
            sim.webhook(intentId=intents[0]["id"])


def test_bad_signatures_are_refused_and_change_nothing(
    ingress: httpx.Client, kafka: KafkaDriver, sim: Simulator, held_payment: tuple[Future[httpx.Response], JSON],
) -> None:
    waiting, intent = held_payment
    # A failure event for the waiting payment: accepted, it would decline it.
    failure = forged(intent, status="requires_payment_method",
                     last_payment_error={"message": "forged", "decline_code": "generic_decline"})
    for how in ("missing", "wrong-secret", "tampered", "stale"):
        refused = sim.webhook(event=failure, signature=how)
        assert refused["delivery"]["status"] == 400, (how, refused)
        assert "webhook refused" in refused["delivery"]["body"]

    badly = sim.webhook(event=failure, signature="wrong-secret", deliver=False)
    raw = ingress.post("/PaymentService/processWebhook", content=badly["payload"],
                       headers={"content-type": "application/json"})
    assert raw.status_code == 400, raw.text
    assert "no Stripe-Signature" in raw.text
    unsigned = json.dumps({"payload": badly["payload"]})
    wrong = json.dumps({"payload": badly["payload"], "signature": badly["signature"]})
    outcomes = kafka.send(WEBHOOKS, [(f"{intent['id']}-unsigned", unsigned), (f"{intent['id']}-bad", wrong)])
    assert [o.error.get("code") for o in outcomes] == [400, 400], [o.error for o in outcomes]

    time.sleep(0.3)  # room for a wrongly accepted event to settle the payment
    assert not waiting.done(), waiting.result().text
    settled = sim.webhook(intentId=intent["id"])  # the real, well signed event
    assert settled["delivery"]["status"] == 200, settled
    response = waiting.result(timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"paymentIntentId": intent["id"], "status": "succeeded", "confirmedBy": "webhook"}


@pytest.mark.parametrize("metadata", [{}, {"restate_callback_id": "sign_1" + "A" * 40}])
def test_webhook_for_an_unknown_payment_is_404(
    kafka: KafkaDriver, sim: Simulator, unique: str, metadata: dict[str, str]
) -> None:
    # A payment started elsewhere, or a callback id Restate never made (which, resolved,
    # would fail the webhook's invocation on every retry): a prompt, clear 404.
    stranger = {"id": "pi_elsewhere", "object": "payment_intent", "status": "succeeded", "metadata": metadata}
    refused = sim.webhook(event=forged(stranger), signature="valid")
    assert refused["delivery"]["status"] == 404, refused
    assert "unknown payment: intent pi_elsewhere" in refused["delivery"]["body"]

    signed = sim.webhook(event=forged(stranger), deliver=False)
    [outcome] = kafka.send(WEBHOOKS, [(f"{unique}-evt", json.dumps(
        {"payload": signed["payload"], "signature": signed["signature"]}))])
    assert outcome.error.get("code") == 404, outcome.error


def test_other_event_types_are_received_and_ignored(sim: Simulator) -> None:
    event = {"id": "evt_other", "object": "event", "type": "customer.created",
             "data": {"object": {"id": "cus_1", "object": "customer"}}}
    answer = sim.webhook(event=event)
    assert answer["delivery"]["status"] == 200, answer
    assert json.loads(answer["delivery"]["body"]) == {
        "received": True, "eventId": "evt_other", "type": "customer.created", "paymentIntentId": None,
        "handled": False}


def test_webhook_as_the_provider_sends_it(ingress: httpx.Client, sim: Simulator) -> None:
    """The provider's headers as they come: a charset on the content type, the header
    name capitalised."""
    event = {"id": "evt_headers", "object": "event", "type": "payment_intent.created",
             "data": {"object": {"id": "pi_1", "object": "payment_intent", "status": "processing", "metadata": {}}}}
    signed = sim.webhook(event=event, deliver=False)
    response = ingress.post("/PaymentService/processWebhook", content=signed["payload"].encode(), headers={
        "Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signed["signature"]})
    assert response.status_code == 200, response.text
    assert response.json()["eventId"] == "evt_headers"


def test_malformed_webhook_records_go_to_the_dlq(kafka: KafkaDriver, unique: str) -> None:
    [outcome] = kafka.send(WEBHOOKS, [(f"{unique}-evt", b'{"signature": "t=1,v1=00"}')])
    assert outcome.dead_lettered
    assert "payload: Field required" in (outcome.record.header("error.reason") or "")



def test_demo_scene_runs(scene_output: SceneOutput) -> None:
    text = scene_output(demo.run)
    assert '"confirmedBy":"webhook"' in text  # the seed's delayed payment
    assert '"confirmedBy":"response"' in text
    assert "-> 402" in text
    assert text.count("payment-requests-results") == 4
    assert "payment-requests-dlq" in text
    assert "bad signature" in text  # the forged webhook through Kafka


def test_keys_never_reach_the_logs(settings: Settings, ingress: httpx.Client) -> None:
    ingress.post("/PaymentService/processPayment", json=request("pm_card_visa_chargeDeclined", 7))
    secrets = [settings.provider.secret_key.get_secret_value(), settings.provider.webhook_secret.get_secret_value()]
    for log in ("service.log", "provider.log"):
        text = (settings.stack.home / "run" / log).read_text(errors="replace")
        assert text, log
        assert not [s for s in secrets if s in text], log


def test_a_waiting_payment_survives_crashes(tmp_path: Path) -> None:
    """Suspended on its awakeable, a payment outlives kill -9 of the service and of
    restate-server (on a private stack: the session stack is never crashed), and the
    provider is not charged again when it resumes."""
    stack = Stack(ephemeral_settings(tmp_path, kafka={"topic_partitions": 1}), tmp_path, progress=lambda _: None)
    stack.start()
    try:
        s = stack.settings
        with httpx.Client(base_url=s.provider.api_base, timeout=30) as http, ThreadPoolExecutor(1) as pool:
            sim = Simulator(http)
            amount = an_amount()
            waiting = pool.submit(KafkaDriver(s.kafka.client_config()).send, PAYMENTS,
                                  [("crash-1", json.dumps(request("pm_card_visa_heldWebhook", amount)))], 90.0)
            assert eventually(lambda: sim.intents_for(amount)), "the payment never reached the provider"
            [intent] = sim.intents_for(amount)
            for component in ("service", "restate"):
                stack.crash(component)
                stack.restart(component)
            assert sim.webhook(intentId=intent["id"])["delivery"]["status"] == 200
            [outcome] = waiting.result(timeout=90)
            assert outcome.ok, outcome.error
            assert outcome.result == {"paymentIntentId": intent["id"], "status": "succeeded", "confirmedBy": "webhook"}
            assert len(sim.intents_for(amount)) == 1
    finally:
        stack.stop()


def test_a_payment_whose_webhook_never_comes_is_settled_by_asking_the_provider(
    settings: Settings, kafka: KafkaDriver, sim: Simulator, unique: str
) -> None:
    """A lost webhook must not strand a payment, nor its record's outcome: after
    `provider.webhook_timeout` processPayment asks the provider for the intent."""
    amount = an_amount()
    began = time.monotonic()
    [outcome] = kafka.send(PAYMENTS, [(f"{unique}-lost", json.dumps(request("pm_card_visa_heldWebhook", amount)))],
                           timeout=90)
    waited = time.monotonic() - began
    [intent] = sim.intents_for(amount)
    assert outcome.ok, outcome.error
    assert outcome.result == {"paymentIntentId": intent["id"], "status": "succeeded", "confirmedBy": "lookup"}
    assert waited >= settings.provider.webhook_timeout.total_seconds()
    # The webhook arriving late anyway is taken, and settles nothing twice.
    late = sim.webhook(intentId=intent["id"])
    assert late["delivery"]["status"] == 200, late
    assert len(sim.intents_for(amount)) == 1
