"""PaymentService/processPayment and /processWebhook: one durable function that takes the
provider's synchronous answer when there is one and otherwise waits for its signed webhook.

processPayment creates an awakeable first and puts its id in the payment intent's
metadata; if the provider answers "processing", the handler suspends on the awakeable
until processWebhook, given the provider's signed event for that intent, resolves it.
A webhook that arrives before the handler waits (even before the provider's answer) is
kept by Restate until the handler gets there; duplicates resolve an awakeable that is
already resolved, which changes nothing.

Fed by `payment-requests` (key requestId: the request's idempotency key, also the
provider's) and `payment-webhooks` (key eventId; the value carries the signature, since
Restate passes no Kafka headers to handlers), or over HTTP: the webhook's raw body and
`stripe-signature` header, as the provider delivers it.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Literal

import restate
from restate.logging import RestateLoggingFilter
from restate.serde import BytesSerde

from handlers.access import public
from handlers.provider_client import ProviderClient
from schemas.catalogue import topic
from schemas.signals import (
    Charge,
    IntentUpdate,
    PaymentRequest,
    PaymentResult,
    VerifiedEvent,
    WebhookEvent,
    WebhookReceipt,
)
from switchyard.core.sink import SinkRuntime, kafka_origin, sink_handler

log = logging.getLogger(__name__)
log.addFilter(RestateLoggingFilter())
PAYMENTS = topic("payment-requests")
WEBHOOKS = topic("payment-webhooks")
# Events that settle a payment intent; the provider sends others too (created, ...).
SETTLING_EVENTS = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed",
                             "payment_intent.canceled"})
DECLINED_STATUSES = frozenset({"requires_payment_method", "canceled"})

FirstAnswer = Literal["succeeded", "declined", "wait"]


def first_answer(charge: Charge, delayed: bool) -> FirstAnswer:
    """What the provider's answer to the create call means.

    With `delayedStatus` the seed treats even a final answer as "processing" and waits
    for the webhook the provider sends anyway (the simulator answers "processing" itself).
    """
    if charge.status == "processing" or (delayed and charge.intentId is not None):
        return "wait"
    if charge.status == "succeeded":
        return "succeeded"
    if charge.status in DECLINED_STATUSES:
        return "declined"
    raise unsupported(charge.status)


def unsupported(status: str) -> restate.TerminalError:
    # e.g. requires_action (3-D Secure): needs the customer, which this flow has no way to reach.
    return restate.TerminalError(f"Payment needs a step this flow does not support (status {status})", 422)


def declined(status: str, message: str | None) -> restate.TerminalError:
    return restate.TerminalError(f"Payment declined: {status} - {message or 'no reason given'}", 402)


def settle(update: IntentUpdate, confirmed_by: Literal["webhook", "lookup"] = "webhook") -> PaymentResult:
    """The outcome a webhook reported (or, when none came in time, a look-up of the intent)."""
    if update.status == "succeeded":
        return PaymentResult(paymentIntentId=update.intentId, status="succeeded", confirmedBy=confirmed_by)
    if update.status in DECLINED_STATUSES:
        raise declined(update.status, update.declineMessage)
    raise unsupported(update.status)


def awakeable_to_resolve(event: VerifiedEvent) -> str | None:
    """The awakeable a verified event settles; None if the event is not one to act on.

    A settling event for an intent that names no awakeable of ours is a payment this
    service did not start: a 404, so the sender sees the webhook went nowhere.
    """
    if event.type not in SETTLING_EVENTS or event.intent is None:
        return None
    if not event.callbackId or not looks_like_awakeable_id(event.callbackId):
        raise restate.TerminalError(
            f"unknown payment: intent {event.intent.intentId} carries no PaymentService callback id", 404)
    return event.callbackId


AWAKEABLE_ID = re.compile(r"sign_1[A-Za-z0-9_-]{38}")


def looks_like_awakeable_id(callback_id: str) -> bool:
    """Restate's awakeable ids: "sign_1" + base64url of 28 bytes (the invocation id and
    the journal entry). Resolving anything else would fail the webhook's invocation on
    every retry, so such an id counts as unknown."""
    return AWAKEABLE_ID.fullmatch(callback_id) is not None


def register(service: restate.Service, client: ProviderClient, runtime: SinkRuntime,
             webhook_timeout: timedelta) -> None:
    """Adds processPayment and processWebhook to the shared PaymentService."""
    register_payments(service, client, runtime, webhook_timeout)
    register_webhooks(service, client, runtime)


def still_processing(intent_id: str, waited: timedelta) -> restate.TerminalError:
    return restate.TerminalError(
        f"Payment {intent_id} still processing at the provider after waiting {waited} for its webhook", 504)


def register_payments(service: restate.Service, client: ProviderClient, runtime: SinkRuntime,
                      webhook_timeout: timedelta) -> None:
    @sink_handler(service.handler, PAYMENTS, runtime,
                  **public(f"Kafka sink of {PAYMENTS.name}; contract HTTP path"))
    async def process_payment(ctx: restate.Context, request: PaymentRequest) -> PaymentResult:
        # The provider's Idempotency-Key. Restate derives the invocation id from the
        # request's idempotency key (the Kafka record key, or the HTTP header), so the same
        # request always sends the same key, on every retry too.
        key = ctx.request().idempotency_key or ctx.request().id
        callback_id, webhook = ctx.awakeable(type_hint=IntentUpdate)
        charge = await ctx.run_typed("create payment intent", client.charge, restate.RunOptions(),
                                     request=request, idempotency_key=key, callback_id=callback_id)
        match first_answer(charge, request.delayedStatus):
            case "succeeded":
                log.info("Payment %s succeeded synchronously", charge.intentId)
                return PaymentResult(paymentIntentId=str(charge.intentId), status="succeeded", confirmedBy="response")
            case "declined":
                raise declined(charge.status, charge.declineMessage)
        log.info("Payment %s still processing: waiting for the provider's webhook", charge.intentId)
        which, value = await restate.select(webhook=webhook, timeout=ctx.sleep(webhook_timeout, name="webhook wait"))
        if which == "webhook":
            update: IntentUpdate = value
            log.info("Webhook for payment %s received: %s", update.intentId, update.status)
            return settle(update)
        # No webhook in time (lost, or the provider's retries gave up): the provider knows.
        update = await ctx.run_typed("look up payment intent", client.current, restate.RunOptions(),
                                     intent_id=str(charge.intentId))
        log.warning("No webhook for payment %s within %s; the provider says %s", update.intentId,
                    webhook_timeout, update.status)
        if update.status == "processing":
            raise still_processing(update.intentId, webhook_timeout)
        return settle(update, confirmed_by="lookup")


def register_webhooks(service: restate.Service, client: ProviderClient, runtime: SinkRuntime) -> None:
    async def accept_webhook(ctx: restate.Context, delivery: WebhookEvent) -> WebhookReceipt:
        event = await ctx.run_typed("verify signature", client.verify, restate.RunOptions(max_attempts=3),
                                    payload=delivery.payload, signature=delivery.signature)
        callback_id = awakeable_to_resolve(event)
        if callback_id is not None and event.intent is not None:
            # Resolving an awakeable that is already resolved (a duplicate) is a no-op.
            ctx.resolve_awakeable(callback_id, event.intent)
            log.info("Webhook %s settles payment %s (%s)", event.id, event.intent.intentId, event.intent.status)
        return WebhookReceipt(eventId=event.id, type=event.type, handled=callback_id is not None,
                              paymentIntentId=event.intent.intentId if event.intent else None)

    # The Kafka sink behaviour (DLQ, results, one run per eventId) comes from sink_handler,
    # registered on a stand-in service (never served) so that the served handler can first
    # turn the provider's HTTP delivery into the Kafka form.
    sink = sink_handler(restate.Service(service.name).handler, WEBHOOKS, runtime)(accept_webhook)

    @service.handler(name=WEBHOOKS.handler, input_serde=BytesSerde(),
                     **public(f"Kafka sink of {WEBHOOKS.name}; contract HTTP path (signed)"))
    async def process_webhook(ctx: restate.Context, raw: bytes) -> WebhookReceipt:
        if kafka_origin(ctx) is None:
            raw = http_delivery(raw, ctx.request().headers)
        result: WebhookReceipt = await sink(ctx, raw)
        return result


def http_delivery(raw: bytes, headers: dict[str, str]) -> bytes:
    """An HTTP call in the Kafka form: the provider's delivery (raw body + signature
    header) wrapped with its bytes untouched; a body already in that form as it is."""
    signature = next((v for k, v in headers.items() if k.lower() == "stripe-signature"), None)
    if signature is not None:
        return as_delivery(raw, signature)
    try:
        WebhookEvent.model_validate_json(raw)
    except ValueError:
        raise restate.TerminalError("webhook refused: no Stripe-Signature header", 400) from None
    return raw


def as_delivery(raw: bytes, signature: str) -> bytes:
    """The provider's HTTP delivery (raw body + header) in the Kafka form, bytes untouched."""
    try:
        payload = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise restate.TerminalError("webhook refused: body is not UTF-8", 400) from None
    return WebhookEvent(payload=payload, signature=signature).model_dump_json().encode()
