"""product-reservations: durable RPC, a product reserved once."""

from typing import Self

from pydantic import Field

from schemas.base import Payload


class ReservationRequest(Payload):
    reservationId: str = Field(min_length=1, max_length=200)

    @classmethod
    def sample(cls, n: int, size: int) -> Self:
        return cls(reservationId=f"r{n}")


class ProductReservation(Payload):
    """What `ProductService/{productId}/getReservation` answers: who holds the product."""

    productId: str
    reservationId: str | None = None
