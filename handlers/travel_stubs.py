"""The simulated travel APIs the saga calls (the seed's Flights, CarRentals and PaymentClient).

* `Flights` and `CarRentals` work two-phase: `reserve` answers a reservation id, then
  `confirm` or `cancel` by that id.
* `PaymentGateway` charges in one shot under a client-generated idempotency key (the
  payment id) and refunds by that key: a refund finds out by itself whether the charge
  went through.

Each is a virtual object keyed by the tripId and keeps a ledger (state `ledger`: id ->
state), so the demo and the tests can see what a trip holds and exactly which
compensations took effect. Every cancel and refund is idempotent. Which requests fail
comes from `BookingSettings`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import restate
from pydantic import BaseModel
from restate.logging import RestateLoggingFilter

from handlers.access import QUERY, private
from handlers.settings import BookingSettings
from schemas.bookings import CarRequest, ChargeRequest, ChargeState, FlightRequest, ReservationState
from switchyard.core.serde import TypedSerde

log = logging.getLogger(__name__)
# Replay-aware: a handler resumed from its journal does not tell its story twice.
log.addFilter(RestateLoggingFilter())

LEDGER = "ledger"
RESERVATIONS: TypedSerde[dict[str, ReservationState]] = TypedSerde(dict[str, ReservationState])
CHARGES: TypedSerde[dict[str, ChargeState]] = TypedSerde(dict[str, ChargeState])

Reservations = dict[str, ReservationState]
Charges = dict[str, ChargeState]
Call = Callable[..., Awaitable[Any]]
# Only BookingWorkflow/run calls the travel APIs' changes; anyone may read the ledgers.
SAGA_STEP = private("saga step of BookingWorkflow/run")
SAGA_COMPENSATION = private("saga compensation of BookingWorkflow/run")


# --- decisions (plain functions, unit-tested) -------------------------------------------

def flight_unavailable(request: FlightRequest, settings: BookingSettings) -> str | None:
    if request.flightId in settings.unavailable_flights:
        return f"Flight {request.flightId} is fully booked"
    return None


def car_unavailable(request: CarRequest, settings: BookingSettings) -> str | None:
    if request.pickupLocation in settings.unavailable_car_locations:
        return f"No rental cars available at {request.pickupLocation}"
    return None


def confirmed(ledger: Reservations, reservation_id: str) -> Reservations:
    """The ledger after confirming; a cancelled or unknown reservation cannot be confirmed."""
    state = ledger.get(reservation_id)
    if state is None:
        raise restate.TerminalError(f"Reservation {reservation_id} not found", 404)
    if state == "CANCELLED":
        raise restate.TerminalError(f"Reservation {reservation_id} was cancelled", 409)
    return {**ledger, reservation_id: "CONFIRMED"}


def cancelled(ledger: Reservations, reservation_id: str) -> Reservations | None:
    """The ledger after cancelling, or None when there is nothing to cancel (never
    reserved, or cancelled already): cancelling is idempotent."""
    if ledger.get(reservation_id) in (None, "CANCELLED"):
        return None
    return {**ledger, reservation_id: "CANCELLED"}


ChargeOutcome = Literal["accepted", "declined", "error-after-charge"]


def charge_outcome(card_number: str, settings: BookingSettings) -> ChargeOutcome:
    if card_number in settings.declined_cards:
        return "declined"
    if card_number in settings.charge_error_cards:
        return "error-after-charge"
    return "accepted"


def refunded(ledger: Charges, payment_id: str) -> Charges | None:
    """The ledger after refunding, or None when nothing was charged under this key (or it
    was refunded already): refunding is idempotent."""
    if ledger.get(payment_id) != "CHARGED":
        return None
    return {**ledger, payment_id: "REFUNDED"}


# --- Restate wiring ---------------------------------------------------------------------

@dataclass(frozen=True)
class TwoPhaseApi:
    """A two-phase reservation API; the fields are its handlers, for `ctx.object_call`."""

    service: restate.VirtualObject
    reserve: Call
    confirm: Call
    cancel: Call


@dataclass(frozen=True)
class PaymentApi:
    service: restate.VirtualObject
    charge: Call
    refund: Call


async def _reservations(ctx: restate.ObjectContext | restate.ObjectSharedContext) -> Reservations:
    return await ctx.get(LEDGER, serde=RESERVATIONS) or {}


def two_phase(
    name: str, noun: str, model: type[BaseModel], unavailable: Callable[[Any], str | None]
) -> TwoPhaseApi:
    """`name` (e.g. Flights) with reserve/confirm/cancel; `noun` words its log lines."""
    api = restate.VirtualObject(name)

    @api.handler("reserve", input_serde=TypedSerde[Any](model), **SAGA_STEP)
    async def reserve(ctx: restate.ObjectContext, request: Any) -> str:
        reason = unavailable(request)
        if reason is not None:
            log.error("%s reservation refused: %s", noun, reason)
            raise restate.TerminalError(reason, 409)
        reservation_id = str(ctx.uuid())
        ctx.set(LEDGER, {**await _reservations(ctx), reservation_id: "RESERVED"}, serde=RESERVATIONS)
        log.info("%s reservation created with id: %s", noun, reservation_id)
        return reservation_id

    @api.handler("confirm", **SAGA_STEP)
    async def confirm(ctx: restate.ObjectContext, reservation_id: str) -> None:
        ctx.set(LEDGER, confirmed(await _reservations(ctx), reservation_id), serde=RESERVATIONS)
        log.info("%s reservation confirmed with id: %s", noun, reservation_id)

    @api.handler("cancel", **SAGA_COMPENSATION)
    async def cancel(ctx: restate.ObjectContext, reservation_id: str) -> bool:
        after = cancelled(await _reservations(ctx), reservation_id)
        if after is None:
            log.info("%s reservation %s: nothing to cancel", noun, reservation_id)
            return False
        ctx.set(LEDGER, after, serde=RESERVATIONS)
        log.info("%s reservation cancelled with id: %s", noun, reservation_id)
        return True

    @api.handler("getLedger", kind="shared", output_serde=RESERVATIONS, **QUERY)
    async def get_ledger(ctx: restate.ObjectSharedContext) -> Reservations:
        return await _reservations(ctx)

    return TwoPhaseApi(api, reserve, confirm, cancel)


def payment_gateway(settings: BookingSettings) -> PaymentApi:
    gateway = restate.VirtualObject("PaymentGateway")

    async def charges(ctx: restate.ObjectContext | restate.ObjectSharedContext) -> Charges:
        return await ctx.get(LEDGER, serde=CHARGES) or {}

    @gateway.handler("charge", **SAGA_STEP)
    async def charge(ctx: restate.ObjectContext, request: ChargeRequest) -> None:
        ledger = await charges(ctx)
        if request.paymentId in ledger:  # the idempotency key: one charge per key
            return
        outcome = charge_outcome(request.cardNumber, settings)
        if outcome == "declined":
            log.error("This payment should never be accepted! Aborting booking.")
            raise restate.TerminalError("Payment could not be accepted!", 402)
        ctx.set(LEDGER, {**ledger, request.paymentId: "CHARGED"}, serde=CHARGES)
        log.info("Charged %s to card ending %s, payment id: %s", request.amount, request.cardNumber[-4:],
                 request.paymentId)
        if outcome == "error-after-charge":
            # The charge stands but the caller only sees an error: the refund must find it.
            log.error("Payment gateway failed after charging payment %s", request.paymentId)
            raise restate.TerminalError("Payment gateway error: the payment outcome is unknown", 502)

    @gateway.handler("refund", **SAGA_COMPENSATION)
    async def refund(ctx: restate.ObjectContext, payment_id: str) -> bool:
        log.info("Refunding payment with id: %s", payment_id)
        after = refunded(await charges(ctx), payment_id)
        if after is None:
            log.info("Payment %s holds no charge: nothing to refund", payment_id)
            return False
        ctx.set(LEDGER, after, serde=CHARGES)
        return True

    @gateway.handler("getLedger", kind="shared", output_serde=CHARGES, **QUERY)
    async def get_ledger(ctx: restate.ObjectSharedContext) -> Charges:
        return await charges(ctx)

    return PaymentApi(gateway, charge, refund)


@dataclass(frozen=True)
class TravelApis:
    flights: TwoPhaseApi
    cars: TwoPhaseApi
    payments: PaymentApi

    @property
    def services(self) -> list[restate.VirtualObject]:
        return [self.flights.service, self.cars.service, self.payments.service]


def build(settings: BookingSettings) -> TravelApis:
    return TravelApis(
        flights=two_phase("Flights", "Flight", FlightRequest, lambda r: flight_unavailable(r, settings)),
        cars=two_phase("CarRentals", "Car rental", CarRequest, lambda r: car_unavailable(r, settings)),
        payments=payment_gateway(settings),
    )
