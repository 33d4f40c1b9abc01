"""payment-requests and payment-webhooks: payments combining sync answers and webhooks."""

from typing import Any

from pydantic import ConfigDict, Field

from schemas.base import Payload


class PaymentRequest(Payload):
    paymentMethodId: str = Field(min_length=1, max_length=200)
    amount: int = Field(gt=0)
    delayedStatus: bool = False


class WebhookEvent(Payload):
    """The provider's event envelope; the provider adds fields over time, so extras pass."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    data: dict[str, Any]
