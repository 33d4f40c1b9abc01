"""The payment provider (Stripe) through its own client library.

The API base and keys come from `ProviderSettings`: by default the local simulator
(`switchyard/simulators/provider.py`), with real keys and `api_base=https://api.stripe.com` the
same code talks to the provider. Keys stay in `SecretStr` until the library needs them and
never reach a log line, a result or a dead letter.
"""

from __future__ import annotations

import logging
from typing import Any

import restate
import stripe
from stripe.params import PaymentIntentCreateParams

from handlers.settings import ProviderSettings
from schemas.signals import CALLBACK_ID, DELAYED_STATUS, Charge, IntentUpdate, PaymentRequest, VerifiedEvent

log = logging.getLogger(__name__)


class ProviderClient:
    def __init__(self, settings: ProviderSettings) -> None:
        self._stripe = stripe.StripeClient(
            settings.secret_key.get_secret_value(),
            base_addresses={"api": settings.api_base},
            http_client=stripe.HTTPXClient(),
            # Restate retries the whole step durably; the library's own retries stay short.
            max_network_retries=settings.network_retries,
        )
        self._webhook_secret = settings.webhook_secret
        self._tolerance = int(settings.webhook_tolerance.total_seconds())

    async def charge(self, request: PaymentRequest, idempotency_key: str, callback_id: str) -> Charge:
        """Creates and confirms a payment intent; a decline is an answer, not an error.

        The idempotency key makes a retried step (a crash after the provider charged)
        find the first charge instead of making a second one.
        """
        try:
            intent = await self._stripe.v1.payment_intents.create_async(
                payment_params(request, callback_id), {"idempotency_key": idempotency_key})
        except stripe.CardError as err:
            declined: Any = err.error.payment_intent if err.error else None
            return Charge(intentId=declined.id if declined else None,
                          status=declined.status if declined else "requires_payment_method",
                          declineMessage=err.user_message)
        except (stripe.InvalidRequestError, stripe.IdempotencyError) as err:
            # The provider refuses the request itself (unknown payment method, reused key):
            # retrying cannot help.
            raise restate.TerminalError(f"payment rejected by the provider: {err.user_message}", 400) from None
        return Charge(intentId=intent.id, status=intent.status)

    async def current(self, intent_id: str) -> IntentUpdate:
        """The intent as the provider has it now (when its webhook is late or lost)."""
        intent = await self._stripe.v1.payment_intents.retrieve_async(intent_id)
        error: Any = intent.last_payment_error
        return IntentUpdate(intentId=intent.id, status=intent.status,
                            declineMessage=error.message if error is not None else None)

    def verify(self, payload: str, signature: str | None) -> VerifiedEvent:
        """Checks the signature over the exact bytes received, then reads the event.

        Raises a 400 TerminalError for a missing or wrong signature, or an unreadable event.
        """
        if not signature:
            raise restate.TerminalError("webhook refused: no Stripe-Signature", 400)
        try:
            event = stripe.Webhook.construct_event(
                payload, signature, self._webhook_secret.get_secret_value(), tolerance=self._tolerance)
        except stripe.SignatureVerificationError as err:
            raise restate.TerminalError(f"webhook refused: bad signature ({err.user_message})", 400) from None
        except ValueError as err:
            raise restate.TerminalError(f"webhook refused: not a JSON event ({err})", 400) from None
        return read_event(event.to_dict())


def payment_params(request: PaymentRequest, callback_id: str) -> PaymentIntentCreateParams:
    metadata = {CALLBACK_ID: callback_id}
    if request.delayedStatus:
        metadata[DELAYED_STATUS] = "true"  # for the simulator; the real provider only stores it
    return {
        "amount": request.amount, "currency": "usd", "payment_method": request.paymentMethodId,
        "confirm": True, "confirmation_method": "automatic", "return_url": "https://restate.dev/",
        "metadata": metadata,
    }


def read_event(event: dict[str, Any]) -> VerifiedEvent:
    """The fields the flow acts on; a payment intent event carries the intent and the
    awakeable id that processPayment put in its metadata."""
    obj = (event.get("data") or {}).get("object") or {}
    if obj.get("object") != "payment_intent":
        return VerifiedEvent(id=str(event.get("id", "")), type=str(event.get("type", "")))
    error = obj.get("last_payment_error") or {}
    intent = IntentUpdate(intentId=str(obj.get("id", "")), status=str(obj.get("status", "")),
                          declineMessage=error.get("message"))
    callback = (obj.get("metadata") or {}).get(CALLBACK_ID)
    return VerifiedEvent(id=str(event.get("id", "")), type=str(event.get("type", "")), intent=intent,
                         callbackId=str(callback) if callback else None)
