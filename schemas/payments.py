"""payment-commands: the payment state machine (make/cancel by token)."""

from typing import Annotated, Literal, Self

from pydantic import Field, RootModel

from schemas.base import Payload

PaymentStatus = Literal["NEW", "COMPLETED_SUCCESSFULLY", "CANCELLED"]


class Payment(Payload):
    """State `payment` of PaymentProcessor, and the body of makePayment."""

    accountId: str = Field(min_length=1, max_length=200)
    amountCents: int = Field(gt=0)


class MakePaymentCommand(Payment):
    action: Literal["makePayment"]


class CancelPaymentCommand(Payload):
    action: Literal["cancelPayment"]


class PaymentCommand(RootModel[Annotated[MakePaymentCommand | CancelPaymentCommand, Field(discriminator="action")]]):
    """A payment-commands record: the action decides the shape."""

    @classmethod
    def sample(cls, n: int, size: int) -> Self:
        return cls(MakePaymentCommand(action="makePayment", accountId="acc", amountCents=100))


class PaymentResult(Payload):
    """What makePayment, cancelPayment and handleCommand answer: the seed's Result
    (`success`, `reason`) and the token's status afterwards."""

    success: bool
    reason: str
    status: PaymentStatus


class PaymentView(Payload):
    """What `PaymentProcessor/{id}/getStatus` answers (NEW and no payment once expired)."""

    paymentId: str
    status: PaymentStatus
    payment: Payment | None = None


class AccountResult(Payload):
    """What `Account/{id}/withdraw` answers, as the seed's Result."""

    success: bool
    reason: str
