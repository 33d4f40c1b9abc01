"""Payment signals' decisions, without a context: what an answer or a webhook means."""

from __future__ import annotations

import json
import time

import pytest
import restate

from handlers.provider_client import ProviderClient, payment_params, read_event
from handlers.settings import ProviderSettings
from handlers.signals import awakeable_to_resolve, first_answer, http_delivery, looks_like_awakeable_id, settle
from schemas.signals import Charge, IntentUpdate, PaymentRequest, VerifiedEvent, WebhookEvent
from switchyard.simulators.provider import signature_header

CALLBACK = "sign_1Cy2MrICDEFP7SiYwBWSQH03nkL-9CqRwAAAAEQ"  # one Restate made


@pytest.mark.parametrize(("status", "delayed", "meaning"), [
    ("succeeded", False, "succeeded"),
    ("requires_payment_method", False, "declined"),
    ("canceled", False, "declined"),
    ("processing", False, "wait"),
    ("processing", True, "wait"),
    # delayedStatus: the seed waits for the webhook even when the provider answered at once
    ("succeeded", True, "wait"),
    ("requires_payment_method", True, "wait"),
])
def test_first_answer(status: str, delayed: bool, meaning: str) -> None:
    assert first_answer(Charge(intentId="pi_1", status=status), delayed) == meaning


def test_a_decline_without_an_intent_cannot_wait_for_a_webhook() -> None:
    assert first_answer(Charge(intentId=None, status="requires_payment_method"), True) == "declined"


def test_statuses_the_flow_cannot_finish_fail_terminally() -> None:
    with pytest.raises(restate.TerminalError) as needs_customer:
        first_answer(Charge(intentId="pi_1", status="requires_action"), False)
    assert needs_customer.value.status_code == 422


def test_settle_by_webhook() -> None:
    ok = settle(IntentUpdate(intentId="pi_1", status="succeeded"))
    assert (ok.paymentIntentId, ok.confirmedBy) == ("pi_1", "webhook")
    with pytest.raises(restate.TerminalError) as declined:
        settle(IntentUpdate(intentId="pi_1", status="requires_payment_method",
                            declineMessage="Your card was declined."))
    assert declined.value.status_code == 402
    assert declined.value.message == "Payment declined: requires_payment_method - Your card was declined."


def intent_event(type_: str, callback: str | None) -> VerifiedEvent:
    return VerifiedEvent(id="evt_1", type=type_, intent=IntentUpdate(intentId="pi_1", status="succeeded"),
                         callbackId=callback)


def test_which_awakeable_an_event_settles() -> None:
    assert awakeable_to_resolve(intent_event("payment_intent.succeeded", CALLBACK)) == CALLBACK
    assert awakeable_to_resolve(intent_event("payment_intent.payment_failed", CALLBACK)) == CALLBACK
    # Not a settling event: received, nothing to do.
    assert awakeable_to_resolve(intent_event("payment_intent.created", CALLBACK)) is None
    assert awakeable_to_resolve(VerifiedEvent(id="evt_2", type="customer.created")) is None


@pytest.mark.parametrize("callback", [None, "", "sign_1" + "A" * 40, "prom_1abc", CALLBACK + "x"])
def test_a_settling_event_for_a_payment_not_ours_is_404(callback: str | None) -> None:
    with pytest.raises(restate.TerminalError) as unknown:
        awakeable_to_resolve(intent_event("payment_intent.succeeded", callback))
    assert unknown.value.status_code == 404
    assert "unknown payment: intent pi_1" in unknown.value.message


def test_awakeable_id_shape() -> None:
    assert looks_like_awakeable_id(CALLBACK)
    assert not looks_like_awakeable_id(CALLBACK[:-1])


def test_payment_params_carry_the_callback_and_the_delay_flag() -> None:
    params = payment_params(PaymentRequest(paymentMethodId="pm_card_visa", amount=109, delayedStatus=True), CALLBACK)
    assert params["metadata"] == {"restate_callback_id": CALLBACK, "delayed_status": "true"}
    assert (params["amount"], params["payment_method"], params["confirm"]) == (109, "pm_card_visa", True)
    plain = payment_params(PaymentRequest(paymentMethodId="pm_card_visa", amount=5), CALLBACK)
    assert plain["metadata"] == {"restate_callback_id": CALLBACK}


def test_read_event_takes_the_intent_and_its_callback() -> None:
    event = read_event({"id": "evt_1", "type": "payment_intent.payment_failed", "data": {"object": {
        "id": "pi_1", "object": "payment_intent", "status": "requires_payment_method",
        "last_payment_error": {"message": "Your card was declined."}, "metadata": {"restate_callback_id": CALLBACK}}}})
    assert event == VerifiedEvent(
        id="evt_1", type="payment_intent.payment_failed", callbackId=CALLBACK,
        intent=IntentUpdate(intentId="pi_1", status="requires_payment_method",
                            declineMessage="Your card was declined."))
    other = read_event({"id": "evt_2", "type": "customer.created", "data": {"object": {"object": "customer"}}})
    assert other.intent is None


SETTINGS = ProviderSettings()
SECRET = SETTINGS.webhook_secret.get_secret_value()
PAYLOAD = json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "data": {"object": {
    "id": "pi_1", "object": "payment_intent", "status": "succeeded", "metadata": {"restate_callback_id": CALLBACK}}}})


def test_verify_accepts_the_exact_signed_bytes_only() -> None:
    client = ProviderClient(SETTINGS)
    header = signature_header(PAYLOAD, SECRET, int(time.time()))
    assert client.verify(PAYLOAD, header).callbackId == CALLBACK
    for payload, signature in [(PAYLOAD, None), (PAYLOAD, ""), (PAYLOAD + " ", header), (PAYLOAD, "t=1,v1=00"),
                               (PAYLOAD, signature_header(PAYLOAD, SECRET, int(time.time()) - 3600))]:
        with pytest.raises(restate.TerminalError) as refused:
            client.verify(payload, signature)
        assert refused.value.status_code == 400
        assert refused.value.message.startswith("webhook refused")


def test_a_signed_non_json_body_is_refused() -> None:
    header = signature_header("not json", SECRET, int(time.time()))
    with pytest.raises(restate.TerminalError) as refused:
        ProviderClient(SETTINGS).verify("not json", header)
    assert refused.value.status_code == 400


def test_http_delivery_wraps_the_raw_body_untouched() -> None:
    raw = b'{"id":  "evt_1",\n "type": "x"}'  # odd spacing: re-encoding would change the bytes
    wrapped = WebhookEvent.model_validate_json(http_delivery(raw, {"Stripe-Signature": "t=1,v1=ab"}))
    assert (wrapped.payload.encode(), wrapped.signature) == (raw, "t=1,v1=ab")
    envelope = json.dumps({"payload": "{}", "signature": "t=1,v1=ab"}).encode()
    assert http_delivery(envelope, {}) == envelope  # already the Kafka form
    with pytest.raises(restate.TerminalError) as unsigned:
        http_delivery(raw, {})
    assert (unsigned.value.status_code, unsigned.value.message) == (400, "webhook refused: no Stripe-Signature header")
    with pytest.raises(restate.TerminalError):
        http_delivery(b"\xff\xfe", {"stripe-signature": "t=1,v1=ab"})
