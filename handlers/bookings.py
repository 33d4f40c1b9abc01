"""BookingWorkflow: the trip saga, one workflow per tripId, fed by `trip-bookings`.

Reserve a flight, reserve a car, pay, then confirm both reservations. Every step that
takes effect pushes its undo onto a stack: the two-phase reservations after they answer
(the undo needs their id), the payment *before* the charge (a failed charge may still
have gone through; the refund asks the gateway by the payment's idempotency key). On a
terminal failure the undos run in reverse order (refund, cancel car, cancel flight), each
idempotent, and the workflow fails with the original error. State `saga` records what was
done and which compensations ran (`POST /BookingWorkflow/{tripId}/getStatus`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import restate
from restate.logging import RestateLoggingFilter

from handlers.access import QUERY, public
from handlers.travel_stubs import TravelApis
from schemas.bookings import BookingConfirmation, BookingRequest, ChargeRequest, TripStatus
from schemas.catalogue import topic
from switchyard.core.sink import SinkRuntime, ingest_object, sink_handler, spend_retry_budget

log = logging.getLogger(__name__)
# Replay-aware: a handler resumed from its journal does not tell its story twice.
log.addFilter(RestateLoggingFilter())
TOPIC = topic("trip-bookings")
SAGA = "saga"


@dataclass(frozen=True)
class Compensation:
    name: str
    undo: Callable[[], Awaitable[Any]]


@dataclass
class Saga:
    """The undo stack and the `saga` state that mirrors it."""

    ctx: restate.WorkflowContext
    status: TripStatus = field(default_factory=TripStatus)
    compensations: list[Compensation] = field(default_factory=list)

    def record(self, **changes: Any) -> None:
        self.status = self.status.model_copy(update=changes)
        self.ctx.set(SAGA, self.status)

    def push(self, name: str, undo: Callable[[], Awaitable[Any]]) -> None:
        self.compensations.append(Compensation(name, undo))

    async def compensate(self, failure: restate.TerminalError) -> None:
        log.warning("Booking %s failed (%s): running %d compensations", self.ctx.key(), failure.message,
                    len(self.compensations))
        self.record(failure=failure.message)
        # Last pushed, first undone. Undos never fail terminally (cancel and refund are
        # idempotent no-ops when there is nothing to undo); Restate retries transient ones.
        for step in reversed(self.compensations):
            await step.undo()
            self.record(compensations=[*self.status.compensations, step.name])
        self.record(status="COMPENSATED")
        log.warning("Booking %s compensated; failing with: %s", self.ctx.key(), failure.message)


async def book(saga: Saga, travel: TravelApis, request: BookingRequest) -> BookingConfirmation:
    ctx, trip = saga.ctx, saga.ctx.key()
    flight_id: str = await ctx.object_call(travel.flights.reserve, key=trip, arg=request.flights)
    saga.record(flightBookingId=flight_id)
    saga.push(f"cancel flight {flight_id}", lambda: ctx.object_call(travel.flights.cancel, key=trip, arg=flight_id))

    car_id: str = await ctx.object_call(travel.cars.reserve, key=trip, arg=request.car)
    saga.record(carBookingId=car_id)
    saga.push(f"cancel car rental {car_id}", lambda: ctx.object_call(travel.cars.cancel, key=trip, arg=car_id))

    # The payment id is the gateway's idempotency key, generated here and journaled; the
    # refund goes on the stack before the charge, which may fail after taking effect.
    payment_id = str(ctx.uuid())
    saga.record(paymentId=payment_id)
    saga.push(f"refund payment {payment_id}",
              lambda: ctx.object_call(travel.payments.refund, key=trip, arg=payment_id))
    charge = ChargeRequest(paymentId=payment_id, cardNumber=request.paymentInfo.cardNumber,
                           amount=request.paymentInfo.amount)
    await ctx.object_call(travel.payments.charge, key=trip, arg=charge)

    await ctx.object_call(travel.flights.confirm, key=trip, arg=flight_id)
    await ctx.object_call(travel.cars.confirm, key=trip, arg=car_id)
    saga.record(status="CONFIRMED")
    log.info("Trip %s booked: flight %s, car %s, payment %s", trip, flight_id, car_id, payment_id)
    return BookingConfirmation(tripId=trip, flightBookingId=flight_id, carBookingId=car_id, paymentId=payment_id)


async def book_or_undo(saga: Saga, travel: TravelApis, request: BookingRequest,
                       runtime: SinkRuntime) -> BookingConfirmation:
    """The trip, or on a terminal failure its undos and that failure. A failure in our own
    code is retried within the record's budget; once that is spent the trip must not stay
    half-booked, so the undos run before the record is dead-lettered (RetriesExhausted)."""
    try:
        return await book(saga, travel, request)
    except restate.TerminalError as failure:
        await saga.compensate(failure)
        raise
    except Exception as bug:  # noqa: BLE001 - any bug in the saga's code ends in its undos
        exhausted = await spend_retry_budget(saga.ctx, runtime, TOPIC.name, bug)
        await saga.compensate(exhausted)
        raise exhausted from None


def build(travel: TravelApis, runtime: SinkRuntime) -> list[restate.Workflow | restate.VirtualObject]:
    workflow = restate.Workflow("BookingWorkflow")
    front = ingest_object(TOPIC)

    @sink_handler(workflow.main, TOPIC, runtime, front=front.handler,
                  **public(f"Kafka sink of {TOPIC.name}; contract HTTP path"))
    async def run(ctx: restate.WorkflowContext, request: BookingRequest) -> BookingConfirmation:
        saga = Saga(ctx)
        saga.record()
        return await book_or_undo(saga, travel, request, runtime)

    @workflow.handler("getStatus", **QUERY)
    async def get_status(ctx: restate.WorkflowSharedContext) -> TripStatus:
        status = await ctx.get(SAGA, type_hint=TripStatus)
        if status is None:
            raise restate.TerminalError(f"Trip {ctx.key()} not found", 404)
        return status

    return [workflow, front]
