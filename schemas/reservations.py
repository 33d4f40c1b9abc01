"""product-reservations: durable RPC, a product reserved once."""

from pydantic import Field

from schemas.base import Payload


class ReservationRequest(Payload):
    reservationId: str = Field(min_length=1, max_length=200)


class ProductReservation(Payload):
    """What `ProductService/{productId}/getReservation` answers: who holds the product."""

    productId: str
    reservationId: str | None = None
