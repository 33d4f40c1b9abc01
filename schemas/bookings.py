"""trip-bookings: the saga (flight, car, payment; compensations on failure)."""

from typing import Literal, Self

from pydantic import Field

from schemas.base import Payload


class FlightRequest(Payload):
    flightId: str = Field(max_length=200)
    passengerName: str = Field(max_length=500)


class CarRequest(Payload):
    pickupLocation: str = Field(max_length=500)
    rentalDate: str = Field(max_length=100)


class PaymentInfo(Payload):
    cardNumber: str = Field(max_length=32)
    amount: float = Field(gt=0)


class BookingRequest(Payload):
    flights: FlightRequest
    car: CarRequest
    paymentInfo: PaymentInfo

    @classmethod
    def sample(cls, n: int, size: int) -> Self:
        return cls(flights=FlightRequest(flightId=f"f{n}", passengerName="Ada"),
                   car=CarRequest(pickupLocation="Paris", rentalDate="2024-10-10"),
                   paymentInfo=PaymentInfo(cardNumber="4242424242424242", amount=10.0))


class BookingConfirmation(Payload):
    """The result of a trip that went through."""

    tripId: str
    flightBookingId: str
    carBookingId: str
    paymentId: str


SagaStatus = Literal["RUNNING", "CONFIRMED", "COMPENSATED"]


class TripStatus(Payload):
    """State `saga` of BookingWorkflow (`POST /BookingWorkflow/{tripId}/getStatus`): what was
    done, and the compensations that ran, in the order they ran."""

    status: SagaStatus = "RUNNING"
    flightBookingId: str | None = None
    carBookingId: str | None = None
    paymentId: str | None = None
    compensations: list[str] = Field(default_factory=list)
    failure: str | None = None


# The simulated downstream APIs (handlers/travel_stubs.py) keep ledgers per trip.
ReservationState = Literal["RESERVED", "CONFIRMED", "CANCELLED"]
ChargeState = Literal["CHARGED", "REFUNDED"]


class ChargeRequest(Payload):
    """A one-shot charge; `paymentId` is the client-generated idempotency key."""

    paymentId: str
    cardNumber: str
    amount: float
