"""wallet-deposits: betting deposits under a per-user limit."""

from typing import Literal, Self

from pydantic import Field

from schemas.base import Payload


class DepositRequest(Payload):
    walletId: str = Field(min_length=1, max_length=200)
    userId: str = Field(min_length=1, max_length=200)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)
    amount: int = Field(gt=0)
    paymentMethod: str = Field(min_length=1, max_length=100)

    @classmethod
    def sample(cls, n: int, size: int) -> Self:
        return cls(walletId="w", userId="u", email="load@example.com", amount=1, paymentMethod="card")


NoticeKind = Literal["success", "failure"]


class Notice(Payload):
    """A success or failure notice for one deposit, kept by `CommsService/{email}`."""

    kind: NoticeKind
    depositId: str
    userId: str
    walletId: str
    amount: int
    message: str


class DepositLimit(Payload):
    """What `RGService/{userId}/getLimit` answers: what the user may still deposit."""

    userId: str
    remaining: int
    limit: int
