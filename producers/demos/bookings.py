"""BookingWorkflow demo: the seed's declined trip over HTTP, then trips through Kafka that
go through or fail at the car step, each with what it left in the travel APIs' ledgers."""

from __future__ import annotations

import uuid

from producers.demos.base import DemoEnv, show_dead_letter, show_result
from schemas.bookings import BookingRequest, CarRequest, FlightRequest, PaymentInfo
from schemas.catalogue import topic

TOPIC = topic("trip-bookings")
SEED_CARD = "4111111111111111"  # declined by the simulated gateway, as in the seed
GOOD_CARD = "5555555555554444"


def booking(location: str = "Airport", card: str = SEED_CARD) -> BookingRequest:
    """The seed README's body; another location or card makes a step fail (BookingSettings)."""
    return BookingRequest(
        flights=FlightRequest(flightId="12345", passengerName="John Doe"),
        car=CarRequest(pickupLocation=location, rentalDate="2024-12-16"),
        paymentInfo=PaymentInfo(cardNumber=card, amount=1500),
    )


def show_trip(env: DemoEnv, trip_id: str) -> None:
    env.show(f"POST /BookingWorkflow/{trip_id}/getStatus", env.call(f"/BookingWorkflow/{trip_id}/getStatus"))
    ledgers = {api: env.http.post(f"/{api}/{trip_id}/getLedger").json()
               for api in ("Flights", "CarRentals", "PaymentGateway")}
    env.show("ledgers (Flights, CarRentals, PaymentGateway /getLedger)", ledgers)


def run(env: DemoEnv) -> None:
    env.say("BookingWorkflow: a saga; on a terminal failure the compensations run in reverse order")
    # A workflow runs once per tripId: fresh ids, so the scene can be run again.
    run_id = uuid.uuid4().hex[:6]
    declined, booked, no_car = (f"trip-{run_id}-{n}" for n in ("declined", "booked", "nocar"))

    env.say(f"  POST /BookingWorkflow/{declined}/run  (the seed's body: its card is declined)")
    response = env.http.post(f"/BookingWorkflow/{declined}/run", json=booking().model_dump())
    env.say(f"  -> {response.status_code} {response.text}")
    show_trip(env, declined)

    with env.reader([TOPIC.results, TOPIC.dlq]) as reader:
        env.send(TOPIC.name, [
            (booked, booking(card=GOOD_CARD).model_dump_json().encode()),
            (no_car, booking(location="Atlantis", card=GOOD_CARD).model_dump_json().encode()),
            (f"trip-{run_id}-bad", b'{"flights": {"flightId": "12345"}}'),
        ])
        records = env.wait(reader, {TOPIC.results: 2, TOPIC.dlq: 1})
    for record in records:
        (show_result if record.topic == TOPIC.results else show_dead_letter)(env, record)
    show_trip(env, booked)
    show_trip(env, no_car)
