"""product-reservations: durable RPC, a product reserved once."""

from pydantic import Field

from schemas.base import Payload


class ReservationRequest(Payload):
    reservationId: str = Field(min_length=1, max_length=200)
