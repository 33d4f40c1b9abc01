"""trip-bookings: the saga (flight, car, payment; compensations on failure)."""

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
