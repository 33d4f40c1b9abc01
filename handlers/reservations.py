"""ProductService: durable RPC, a product reserved once, fed by `product-reservations`.

The first reservation of a product wins and is kept in state `reservation`; the same
reservationId again answers `true` (idempotent), any other answers `false`.

Over HTTP the seed's client sends no body, only an `idempotency-key` header. Restate
dedups such calls itself (a repeat gets the first answer without running again) but does
not show the key to the handler; so a call without a body is a new reservation attempt
named by its invocation id, which Restate derives from the idempotency key.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import restate
from restate.logging import RestateLoggingFilter

from handlers.access import QUERY, public
from schemas.catalogue import topic
from schemas.reservations import ProductReservation, ReservationRequest
from switchyard.core.sink import Registrar, SinkRuntime, kafka_origin, sink_handler

log = logging.getLogger(__name__)
# Replay-aware: a handler resumed from its journal does not tell its story twice.
log.addFilter(RestateLoggingFilter())
TOPIC = topic("product-reservations")
RESERVATION = "reservation"


def answer(holder: str | None, reservation_id: str) -> bool:
    """Whether `reservation_id` holds the product, given who holds it now (if anyone)."""
    return holder is None or holder == reservation_id


def default_body(raw: bytes, invocation_id: str) -> bytes:
    """An HTTP call without a body reserves under its own invocation id."""
    if raw.strip():
        return raw
    return ReservationRequest(reservationId=invocation_id).model_dump_json().encode()


def with_default_body(register: Registrar) -> Registrar:
    """Wraps the sink's registration so an empty HTTP body becomes a request (Kafka
    records are left alone: an empty record is a schema violation for the DLQ)."""

    def registrar(**options: Any) -> Callable[[Any], Any]:
        def decorate(handle: Callable[[Any, bytes], Any]) -> Any:
            @functools.wraps(handle)
            async def defaulted(ctx: restate.ObjectContext, raw: bytes) -> Any:
                if kafka_origin(ctx) is None:
                    raw = default_body(raw, ctx.request().id)
                return await handle(ctx, raw)

            return register(**options)(defaulted)

        return decorate

    return registrar


def build(runtime: SinkRuntime) -> restate.VirtualObject:
    product = restate.VirtualObject("ProductService")

    @sink_handler(with_default_body(product.handler), TOPIC, runtime,
                  **public(f"Kafka sink of {TOPIC.name}; contract HTTP path"))
    async def reserve(ctx: restate.ObjectContext, request: ReservationRequest) -> bool:
        holder = await ctx.get(RESERVATION, type_hint=str)
        granted = answer(holder, request.reservationId)
        if holder is None:
            ctx.set(RESERVATION, request.reservationId)
            log.info("Product %s reserved by %s", ctx.key(), request.reservationId)
        elif granted:
            log.info("Product %s was already reserved by %s: answering true again", ctx.key(), holder)
        else:
            log.info("Product %s is reserved by %s: refusing %s", ctx.key(), holder, request.reservationId)
        return granted

    @product.handler("getReservation", kind="shared", **QUERY)
    async def get_reservation(ctx: restate.ObjectSharedContext) -> ProductReservation:
        holder = await ctx.get(RESERVATION, type_hint=str)
        return ProductReservation(productId=ctx.key(), reservationId=holder)

    return product
