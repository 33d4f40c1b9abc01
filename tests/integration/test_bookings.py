"""BookingWorkflow (saga) through Kafka and HTTP, against the real stack: a failure at each
step runs exactly the compensations owed, in reverse order, and nothing else."""

from __future__ import annotations

import json
from typing import Any

import httpx

from handlers.settings import ExampleStackSettings as Settings
from producers.demos import bookings as demo
from schemas.catalogue import topic
from tests.integration.conftest import SceneOutput
from tests.integration.kafka_driver import KafkaDriver
from tests.integration.private_calls import post_private

TOPIC = topic("trip-bookings")
GOOD_CARD = "5555555555554444"


def trip(flight: str = "12345", location: str = "Airport", card: str = GOOD_CARD) -> dict[str, Any]:
    """The seed's demo body, with the parts a test turns into failures."""
    return {
        "flights": {"flightId": flight, "passengerName": "John Doe"},
        "car": {"pickupLocation": location, "rentalDate": "2024-12-16"},
        "paymentInfo": {"cardNumber": card, "amount": 1500},
    }


def ledgers(ingress: httpx.Client, trip_id: str) -> dict[str, dict[str, str]]:
    return {api: ingress.post(f"/{api}/{trip_id}/getLedger").json()
            for api in ("Flights", "CarRentals", "PaymentGateway")}


def status(ingress: httpx.Client, trip_id: str) -> dict[str, Any]:
    r = ingress.post(f"/BookingWorkflow/{trip_id}/getStatus")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_trip_that_goes_through_confirms_everything(kafka: KafkaDriver, ingress: httpx.Client, unique: str) -> None:
    [outcome] = kafka.send(TOPIC, [(unique, json.dumps(trip()))])
    assert outcome.ok, outcome.error
    booked = status(ingress, unique)
    assert booked["status"] == "CONFIRMED"
    assert booked["compensations"] == []
    assert outcome.result == {"tripId": unique, "flightBookingId": booked["flightBookingId"],
                              "carBookingId": booked["carBookingId"], "paymentId": booked["paymentId"]}
    assert ledgers(ingress, unique) == {
        "Flights": {booked["flightBookingId"]: "CONFIRMED"},
        "CarRentals": {booked["carBookingId"]: "CONFIRMED"},
        "PaymentGateway": {booked["paymentId"]: "CHARGED"},
    }


def test_flight_failure_owes_nothing(kafka: KafkaDriver, ingress: httpx.Client, settings: Settings,
                                     unique: str) -> None:
    flight = settings.booking.unavailable_flights[0]
    [outcome] = kafka.send(TOPIC, [(unique, json.dumps(trip(flight=flight)))])
    assert not outcome.ok
    assert outcome.error == {"code": 409, "message": f"Flight {flight} is fully booked"}
    assert status(ingress, unique)["compensations"] == []
    assert ledgers(ingress, unique) == {"Flights": {}, "CarRentals": {}, "PaymentGateway": {}}


def test_car_failure_cancels_the_flight(kafka: KafkaDriver, ingress: httpx.Client, settings: Settings,
                                        unique: str) -> None:
    location = settings.booking.unavailable_car_locations[0]
    [outcome] = kafka.send(TOPIC, [(unique, json.dumps(trip(location=location)))])
    assert outcome.error == {"code": 409, "message": f"No rental cars available at {location}"}
    saga = status(ingress, unique)
    flight = saga["flightBookingId"]
    assert (saga["status"], saga["carBookingId"], saga["paymentId"]) == ("COMPENSATED", None, None)
    assert saga["compensations"] == [f"cancel flight {flight}"]
    assert ledgers(ingress, unique) == {"Flights": {flight: "CANCELLED"}, "CarRentals": {}, "PaymentGateway": {}}


def test_declined_payment_cancels_car_then_flight_and_refunds_nothing(
    ingress: httpx.Client, settings: Settings, unique: str
) -> None:
    # The seed's curl: its demo card is declined.
    r = ingress.post(f"/BookingWorkflow/{unique}/run", json=trip(card="4111111111111111"))
    assert r.status_code == 402
    assert "Payment could not be accepted!" in r.text
    saga = status(ingress, unique)
    flight, car, payment = saga["flightBookingId"], saga["carBookingId"], saga["paymentId"]
    assert saga["failure"] == "Payment could not be accepted!"
    # The refund was owed (registered before the charge); the gateway found no charge.
    assert saga["compensations"] == [f"refund payment {payment}", f"cancel car rental {car}", f"cancel flight {flight}"]
    assert ledgers(ingress, unique) == {"Flights": {flight: "CANCELLED"}, "CarRentals": {car: "CANCELLED"},
                                        "PaymentGateway": {}}


def test_payment_error_after_the_charge_is_refunded(kafka: KafkaDriver, ingress: httpx.Client, settings: Settings,
                                                    unique: str) -> None:
    card = settings.booking.charge_error_cards[0]
    [outcome] = kafka.send(TOPIC, [(unique, json.dumps(trip(card=card)))])
    assert outcome.error == {"code": 502, "message": "Payment gateway error: the payment outcome is unknown"}
    saga = status(ingress, unique)
    payment = saga["paymentId"]
    assert saga["compensations"][0] == f"refund payment {payment}"
    assert ledgers(ingress, unique) == {
        "Flights": {saga["flightBookingId"]: "CANCELLED"},
        "CarRentals": {saga["carBookingId"]: "CANCELLED"},
        "PaymentGateway": {payment: "REFUNDED"},
    }


def test_saga_steps_run_only_for_the_workflow(ingress: httpx.Client, settings: Settings, unique: str) -> None:
    r = ingress.post(f"/BookingWorkflow/{unique}/run", json=trip(card=settings.booking.charge_error_cards[0]))
    assert r.status_code == 502
    saga = status(ingress, unique)
    before = ledgers(ingress, unique)
    # The steps and undos are ingress-private: no caller but the saga reaches them (that
    # each undo is idempotent is tests/unit/test_bookings.py's cancel and refund tests).
    for path, body in [(f"/Flights/{unique}/cancel", saga["flightBookingId"]),
                       (f"/CarRentals/{unique}/cancel", saga["carBookingId"]),
                       (f"/PaymentGateway/{unique}/refund", saga["paymentId"]),
                       (f"/Flights/{unique}/reserve", trip()["flights"]),
                       (f"/PaymentGateway/{unique}/charge", {"paymentId": "forged", "cardNumber": GOOD_CARD,
                                                             "amount": 1})]:
        r = post_private(ingress, path, json=body)
        assert r.status_code == 400, (path, r.text)
        assert "not public" in r.text
    assert ledgers(ingress, unique) == before


def test_a_trip_runs_once_per_trip_id(ingress: httpx.Client, unique: str) -> None:
    first = ingress.post(f"/BookingWorkflow/{unique}/run", json=trip())
    assert first.status_code == 200, first.text
    again = ingress.post(f"/BookingWorkflow/{unique}/run", json=trip(card="4111111111111111"))
    assert again.status_code == 409  # the workflow already ran: nothing is booked twice
    assert [len(v) for v in ledgers(ingress, unique).values()] == [1, 1, 1]


def test_bad_records_go_to_the_dlq_and_book_nothing(kafka: KafkaDriver, ingress: httpx.Client, unique: str) -> None:
    no_car = {k: v for k, v in trip().items() if k != "car"}
    outcomes = kafka.send(TOPIC, [(f"{unique}-1", b"not json"), (f"{unique}-2", json.dumps(no_car)),
                                  (f"{unique}-3", json.dumps(trip()))])
    assert [o.dead_lettered for o in outcomes] == [True, True, False]
    assert "car: Field required" in (outcomes[1].record.header("error.reason") or "")
    assert outcomes[2].ok
    assert ledgers(ingress, f"{unique}-2") == {"Flights": {}, "CarRentals": {}, "PaymentGateway": {}}


def test_bad_http_body_gets_400_naming_the_field(ingress: httpx.Client, unique: str) -> None:
    body = trip()
    body["paymentInfo"] = {"cardNumber": GOOD_CARD}
    r = ingress.post(f"/BookingWorkflow/{unique}/run", json=body)
    assert r.status_code == 400
    assert "paymentInfo.amount" in r.text


def test_demo_scene_runs(scene_output: SceneOutput) -> None:
    text = scene_output(demo.run)
    assert "-> 402" in text
    assert '"COMPENSATED"' in text
    assert '"CONFIRMED"' in text
