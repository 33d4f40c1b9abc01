"""The saga's decisions, and the saga itself run against the stub APIs in memory."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import defaultdict
from collections.abc import Awaitable
from typing import Any

import pytest
import restate
from restate.handler import handler_from_callable

from handlers import travel_stubs
from handlers.bookings import Saga, book, book_or_undo
from handlers.settings import BookingSettings
from handlers.travel_stubs import cancelled, charge_outcome, confirmed, refunded
from schemas.bookings import BookingConfirmation, BookingRequest, TripStatus

SETTINGS = BookingSettings()


class World:
    """Objects' state, kept per (service, key), as Restate would."""

    def __init__(self) -> None:
        self.state: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
        self.ids = itertools.count(1)


class FakeContext:
    """Just enough of an object/workflow context to run the handlers' own code: state,
    deterministic uuids, and calls that run the target handler in place."""

    def __init__(self, world: World, service: str, key: str) -> None:
        self.world, self.service, self._key = world, service, key

    def key(self) -> str:
        return self._key

    async def get(self, name: str, **_: Any) -> Any:
        return self.world.state[(self.service, self._key)].get(name)

    def set(self, name: str, value: Any, **_: Any) -> None:
        self.world.state[(self.service, self._key)][name] = value

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=next(self.world.ids))

    def object_call(self, tpe: Any, key: str, arg: Any) -> Awaitable[Any]:
        service = handler_from_callable(tpe).service_tag.name
        result: Awaitable[Any] = tpe(FakeContext(self.world, service, key), arg)
        return result


def request(flight: str = "12345", location: str = "Airport", card: str = "5555555555554444") -> BookingRequest:
    return BookingRequest.model_validate({
        "flights": {"flightId": flight, "passengerName": "John Doe"},
        "car": {"pickupLocation": location, "rentalDate": "2024-12-16"},
        "paymentInfo": {"cardNumber": card, "amount": 1500},
    })


def run_saga(req: BookingRequest) -> tuple[BookingConfirmation | restate.TerminalError, TripStatus, dict[str, Any]]:
    """Runs the workflow body as `run` does; answers its outcome, its status and the ledgers."""
    world = World()
    ctx = FakeContext(world, "BookingWorkflow", "trip1")
    saga = Saga(ctx)  # type: ignore[arg-type]
    travel = travel_stubs.build(SETTINGS)

    async def run() -> BookingConfirmation | restate.TerminalError:
        try:
            return await book(saga, travel, req)
        except restate.TerminalError as failure:
            await saga.compensate(failure)
            return failure

    outcome = asyncio.run(run())
    ledgers = {svc: world.state[(svc, "trip1")].get("ledger", {}) for svc in ("Flights", "CarRentals",
                                                                             "PaymentGateway")}
    return outcome, saga.status, ledgers


# ids the fake hands out in order: flight reservation, car reservation, payment
FLIGHT, CAR, PAYMENT = (str(uuid.UUID(int=n)) for n in (1, 2, 3))


def test_a_trip_that_goes_through_confirms_and_compensates_nothing() -> None:
    outcome, status, ledgers = run_saga(request())
    assert outcome == BookingConfirmation(tripId="trip1", flightBookingId=FLIGHT, carBookingId=CAR, paymentId=PAYMENT)
    assert (status.status, status.compensations) == ("CONFIRMED", [])
    assert ledgers == {"Flights": {FLIGHT: "CONFIRMED"}, "CarRentals": {CAR: "CONFIRMED"},
                       "PaymentGateway": {PAYMENT: "CHARGED"}}


def test_flight_failure_owes_nothing() -> None:
    outcome, status, ledgers = run_saga(request(flight="SOLD-OUT"))
    assert isinstance(outcome, restate.TerminalError)
    assert outcome.message == "Flight SOLD-OUT is fully booked"
    assert (status.status, status.compensations) == ("COMPENSATED", [])
    assert ledgers == {"Flights": {}, "CarRentals": {}, "PaymentGateway": {}}


def test_car_failure_cancels_the_flight() -> None:
    outcome, status, ledgers = run_saga(request(location="Atlantis"))
    assert isinstance(outcome, restate.TerminalError)
    assert status.compensations == [f"cancel flight {FLIGHT}"]
    assert ledgers == {"Flights": {FLIGHT: "CANCELLED"}, "CarRentals": {}, "PaymentGateway": {}}


def test_declined_card_unwinds_in_reverse_and_refunds_nothing() -> None:
    outcome, status, ledgers = run_saga(request(card="4111111111111111"))
    assert isinstance(outcome, restate.TerminalError)
    assert (outcome.message, outcome.status_code) == ("Payment could not be accepted!", 402)
    assert status.failure == "Payment could not be accepted!"
    assert status.compensations == [f"refund payment {PAYMENT}", f"cancel car rental {CAR}", f"cancel flight {FLIGHT}"]
    assert ledgers == {"Flights": {FLIGHT: "CANCELLED"}, "CarRentals": {CAR: "CANCELLED"}, "PaymentGateway": {}}


def test_a_charge_that_errors_after_taking_effect_is_refunded() -> None:
    outcome, status, ledgers = run_saga(request(card="4000000000000119"))
    assert isinstance(outcome, restate.TerminalError)
    assert outcome.status_code == 502
    assert status.compensations[0] == f"refund payment {PAYMENT}"
    assert ledgers["PaymentGateway"] == {PAYMENT: "REFUNDED"}


def test_confirm_needs_a_live_reservation() -> None:
    assert confirmed({"a": "RESERVED"}, "a") == {"a": "CONFIRMED"}
    assert confirmed({"a": "CONFIRMED"}, "a") == {"a": "CONFIRMED"}
    with pytest.raises(restate.TerminalError, match="was cancelled"):
        confirmed({"a": "CANCELLED"}, "a")
    with pytest.raises(restate.TerminalError, match="not found"):
        confirmed({}, "a")


def test_cancel_is_idempotent() -> None:
    assert cancelled({"a": "RESERVED", "b": "CONFIRMED"}, "a") == {"a": "CANCELLED", "b": "CONFIRMED"}
    assert cancelled({"a": "CONFIRMED"}, "a") == {"a": "CANCELLED"}
    assert cancelled({"a": "CANCELLED"}, "a") is None
    assert cancelled({}, "a") is None


def test_refund_only_returns_a_standing_charge_once() -> None:
    assert refunded({"p": "CHARGED"}, "p") == {"p": "REFUNDED"}
    assert refunded({"p": "REFUNDED"}, "p") is None
    assert refunded({}, "p") is None


def test_card_outcomes_come_from_settings() -> None:
    settings = BookingSettings(declined_cards=["1"], charge_error_cards=["2"])
    assert [charge_outcome(card, settings) for card in ("1", "2", "3")] == ["declined", "error-after-charge",
                                                                           "accepted"]
    assert charge_outcome("4111111111111111", BookingSettings()) == "declined"  # the seed's demo card


class BuggyContext(FakeContext):
    """Confirming the car hits a bug in our code (a non-terminal exception), and the
    record's retry budget is already spent: the budget step fails for good."""

    def object_call(self, tpe: Any, key: str, arg: Any) -> Awaitable[Any]:
        if handler_from_callable(tpe).name == "confirm" and arg == CAR:
            raise KeyError("a bug after the payment")
        return super().object_call(tpe, key, arg)

    async def run_typed(self, name: str, *_: Any, **__: Any) -> None:
        assert name == "retry budget"
        raise restate.TerminalError("retry budget spent")


def test_a_bug_past_the_retry_budget_undoes_the_trip_before_it_is_dead_lettered() -> None:
    from switchyard.core.settings import RetrySettings
    from switchyard.core.sink import RetriesExhausted, SinkRuntime

    world = World()
    saga = Saga(BuggyContext(world, "BookingWorkflow", "trip1"))  # type: ignore[arg-type]
    runtime = SinkRuntime(producer=None, retries=RetrySettings(max_attempts=3))  # type: ignore[arg-type]
    with pytest.raises(RetriesExhausted, match="KeyError"):
        asyncio.run(book_or_undo(saga, travel_stubs.build(SETTINGS), request(), runtime))
    assert saga.status.status == "COMPENSATED"
    assert saga.status.compensations == [f"refund payment {PAYMENT}", f"cancel car rental {CAR}",
                                         f"cancel flight {FLIGHT}"]
    ledgers = {svc: world.state[(svc, "trip1")].get("ledger", {}) for svc in ("Flights", "CarRentals",
                                                                             "PaymentGateway")}
    assert ledgers == {"Flights": {FLIGHT: "CANCELLED"}, "CarRentals": {CAR: "CANCELLED"},
                       "PaymentGateway": {PAYMENT: "REFUNDED"}}
