"""payment-requests and payment-webhooks: payments combining sync answers and webhooks."""

from typing import Literal, Self

from pydantic import Field

from schemas.base import Payload

# The intent metadata key naming the awakeable a "processing" payment waits on (the seed's name).
CALLBACK_ID = "restate_callback_id"
# Metadata asking the provider simulator for a delayed answer; the real provider ignores it.
DELAYED_STATUS = "delayed_status"


class PaymentRequest(Payload):
    paymentMethodId: str = Field(min_length=1, max_length=200)
    amount: int = Field(gt=0)
    delayedStatus: bool = False

    @classmethod
    def sample(cls, n: int, size: int) -> Self:
        return cls(paymentMethodId="pm_card_visa", amount=100)


class WebhookEvent(Payload):
    """A webhook event as it travels over Kafka: Restate passes no record headers to
    handlers, so the provider's `Stripe-Signature` header rides inside the value, next to
    the event body exactly as signed (a string: re-encoding the JSON would break the
    signature). Over HTTP the raw body and the header are used instead."""

    payload: str = Field(min_length=1)
    # Optional so that an unsigned event is refused by the signature check (400), like an
    # unsigned HTTP delivery, rather than dead-lettered as malformed.
    signature: str | None = None


class Charge(Payload):
    """What the provider answered when the payment was created (journaled)."""

    intentId: str | None
    status: str
    declineMessage: str | None = None


class IntentUpdate(Payload):
    """A payment intent's final state, as a webhook reports it (the awakeable's value)."""

    intentId: str
    status: str
    declineMessage: str | None = None


class PaymentResult(Payload):
    paymentIntentId: str
    status: Literal["succeeded"]
    # "response": the provider answered at once; "webhook": a signed event settled it;
    # "lookup": no webhook came in time and the provider, asked, said so.
    confirmedBy: Literal["response", "webhook", "lookup"]


class VerifiedEvent(Payload):
    """The parts of a signature-checked event that the webhook handler acts on."""

    id: str
    type: str
    intent: IntentUpdate | None = None
    callbackId: str | None = None


class WebhookReceipt(Payload):
    received: bool = True
    eventId: str
    type: str
    paymentIntentId: str | None = None
    # False for event types this flow does not act on (the provider sends many).
    handled: bool
