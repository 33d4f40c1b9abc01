"""wallet-deposits: betting deposits under a per-user limit."""

from pydantic import Field

from schemas.base import Payload


class DepositRequest(Payload):
    walletId: str = Field(min_length=1, max_length=200)
    userId: str = Field(min_length=1, max_length=200)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)
    amount: int = Field(gt=0)
    paymentMethod: str = Field(min_length=1, max_length=100)
