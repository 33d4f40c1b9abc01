"""The provider simulator's rules, without a network: shapes, signatures, idempotency."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import stripe

from handlers.settings import ProviderSettings
from switchyard.simulators.provider import (
    ProviderError,
    Simulator,
    behaviour_of,
    event_for,
    forged_signature,
    is_local,
    new_intent,
    parse_form,
    settled,
    signature_header,
)

SECRET = "whsec_unit"


def test_form_fields_nest_like_the_client_library_encodes_them() -> None:
    form = ("amount=109&currency=usd&confirm=true"
            "&metadata%5Brestate_callback_id%5D=sign_1x&metadata%5Bdelayed_status%5D=true")
    assert parse_form(form) == {"amount": "109", "currency": "usd", "confirm": "true",
                                "metadata": {"restate_callback_id": "sign_1x", "delayed_status": "true"}}


def test_unknown_payment_method_and_bad_amount_are_invalid_requests() -> None:
    with pytest.raises(ProviderError) as unknown:
        behaviour_of({"amount": "5", "payment_method": "pm_nope"})
    assert unknown.value.status == 400
    assert unknown.value.body["error"]["code"] == "resource_missing"
    with pytest.raises(ProviderError) as zero:
        behaviour_of({"amount": "0", "payment_method": "pm_card_visa"})
    assert zero.value.body["error"]["param"] == "amount"


def test_test_methods_settle_as_the_provider_documents() -> None:
    intent = new_intent({"amount": "109", "payment_method": "pm_card_visa", "metadata": {"k": "v"}}, 1)
    assert intent["status"] == "processing"
    ok = settled(intent, behaviour_of({"amount": "109", "payment_method": "pm_card_visa"}))
    assert (ok["status"], ok["amount_received"], ok["metadata"]) == ("succeeded", 109, {"k": "v"})
    declined = settled(intent, behaviour_of({"amount": "109", "payment_method": "pm_card_visa_chargeDeclined"}))
    assert declined["status"] == "requires_payment_method"
    assert declined["last_payment_error"]["code"] == "card_declined"
    assert event_for(ok, 1)["type"] == "payment_intent.succeeded"
    assert event_for(declined, 1)["type"] == "payment_intent.payment_failed"


def test_signatures_verify_with_the_client_library() -> None:
    payload = json.dumps(event_for({"id": "pi_1", "status": "succeeded"}, 1))
    header = signature_header(payload, SECRET, int(time.time()))
    event = stripe.Webhook.construct_event(payload, header, SECRET)
    assert event["data"]["object"]["id"] == "pi_1"


@pytest.mark.parametrize("how", ["missing", "wrong-secret", "tampered", "stale"])
def test_forged_signatures_do_not_verify(how: str) -> None:
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "x", "data": {"object": {}}})
    header = forged_signature(payload, SECRET, how, int(time.time()))
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, SECRET)


def test_only_a_loopback_api_base_means_the_simulator() -> None:
    assert is_local(ProviderSettings())
    assert not is_local(ProviderSettings(api_base="https://api.stripe.com", secret_key="sk_live_x",
                                         webhook_secret="whsec_x"))


def simulator(hooks: list[httpx.Request]) -> Simulator:
    def receive(request: httpx.Request) -> httpx.Response:
        hooks.append(request)
        return httpx.Response(200, json={"received": True})

    return Simulator(ProviderSettings(delayed_status_after=0.01),
                     http=httpx.AsyncClient(transport=httpx.MockTransport(receive)))


def run(sim: Simulator, *calls: tuple[dict[str, Any], str | None]) -> list[tuple[int, dict[str, Any]]]:
    async def go() -> list[tuple[int, dict[str, Any]]]:
        answers = [await sim.create_intent(params, key) for params, key in calls]
        while sim.tasks:
            await asyncio.gather(*sim.tasks)
        return answers

    return asyncio.run(go())


VISA = {"amount": "109", "payment_method": "pm_card_visa", "metadata": {"restate_callback_id": "sign_1x"}}


def test_an_idempotency_key_answers_the_first_answer_again() -> None:
    hooks: list[httpx.Request] = []
    sim = simulator(hooks)
    first, again = run(sim, (VISA, "k"), (VISA, "k"))
    assert first == again
    assert first[0] == 200
    assert len(sim.intents) == 1
    assert len(hooks) == 1  # one payment, one event
    with pytest.raises(ProviderError) as reused:
        run(sim, ({**VISA, "amount": "110"}, "k"))
    assert reused.value.body["error"]["type"] == "idempotency_error"


def test_a_decline_answers_402_with_the_intent_and_announces_the_failure() -> None:
    hooks: list[httpx.Request] = []
    [(status, body)] = run(simulator(hooks), ({**VISA, "payment_method": "pm_card_visa_chargeDeclined"}, None))
    assert status == 402
    assert body["error"]["type"] == "card_error"
    assert body["error"]["payment_intent"]["status"] == "requires_payment_method"
    assert json.loads(hooks[0].content)["type"] == "payment_intent.payment_failed"


def test_delayed_status_answers_processing_then_sends_a_signed_webhook() -> None:
    hooks: list[httpx.Request] = []
    sim = simulator(hooks)
    delayed = {**VISA, "metadata": {**VISA["metadata"], "delayed_status": "true"}}  # type: ignore[dict-item]
    [(status, body)] = run(sim, (delayed, None))
    assert (status, body["status"]) == (200, "processing")
    [hook] = hooks
    payload = hook.content.decode()
    secret = sim.settings.webhook_secret.get_secret_value()
    event = stripe.Webhook.construct_event(payload, hook.headers["stripe-signature"], secret)
    assert event["type"] == "payment_intent.succeeded"
    assert event["data"]["object"]["metadata"]["restate_callback_id"] == "sign_1x"
    assert sim.events[0]["deliveries"] == [200]


def test_an_early_webhook_is_delivered_before_the_answer() -> None:
    hooks: list[httpx.Request] = []
    sim = simulator(hooks)

    async def go() -> tuple[int, int]:
        status, _ = await sim.create_intent({**VISA, "payment_method": "pm_card_visa_earlyWebhook"}, None)
        return status, len(hooks)  # counted the moment the answer is ready

    assert asyncio.run(go()) == (200, 1)


def test_a_held_webhook_waits_for_the_test_hook() -> None:
    hooks: list[httpx.Request] = []
    sim = simulator(hooks)
    [(_, body)] = run(sim, ({**VISA, "payment_method": "pm_card_visa_heldWebhook"}, None))
    assert body["status"] == "processing"
    assert hooks == []
    sent = asyncio.run(sim.test_webhook({"intentId": body["id"]}))
    assert sent["delivery"]["status"] == 200
    assert json.loads(sent["payload"])["data"]["object"]["status"] == "succeeded"
