"""PaymentService/deposit: betting deposits under a per-user limit, fed by `wallet-deposits`.

The seed's services, by their names:

* `RGService` (responsible gaming), one object per userId: state `limit`, what the user may
  still deposit (starts at `DepositSettings.limit`). `updateLimit` lowers it if the amount
  fits, `resetLimit` gives an amount back, `getLimit` shows it.
* `WalletService`, one object per walletId: state `balance`; `deposit`, `getBalance`.
* `CommsService`, one object per e-mail address: the success and failure notices sent to
  it (logged, and kept in state `notices` for `getNotices`).

A deposit lowers the user's limit, charges the customer (simulated; methods in
`declined_payment_methods` are declined and the limit given back at once), credits the
wallet, sends a success notice and schedules `resetLimit` after `limit_restore_after` (a
delayed durable call). A deposit over the remaining limit answers `false` and changes
nothing but a failure notice.

PaymentService is a plain service: Kafka records run once per record key (the sink
forwards them under it as idempotency key), HTTP callers deduplicate with the
`idempotency-key` header; either way Restate runs the business step once per key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import restate
from restate.logging import RestateLoggingFilter

from handlers.access import QUERY, private, public
from handlers.settings import DepositSettings
from schemas.catalogue import topic
from schemas.deposits import DepositLimit, DepositRequest, Notice, NoticeKind
from switchyard.core.serde import TypedSerde
from switchyard.core.sink import SinkRuntime, sink_handler

log = logging.getLogger(__name__)
# Replay-aware: a handler resumed from its journal does not tell its story twice.
log.addFilter(RestateLoggingFilter())
TOPIC = topic("wallet-deposits")
LIMIT = "limit"
BALANCE = "balance"
NOTICES = "notices"
KEPT_NOTICES = 50  # per address, newest last
NOTICE_LIST: TypedSerde[list[Notice]] = TypedSerde(list[Notice])
Call = Callable[..., Awaitable[Any]]


# --- decisions (plain functions, unit-tested) -------------------------------------------

def lowered(remaining: int, amount: int) -> int | None:
    """The remaining limit after a deposit, or None if the deposit does not fit."""
    return remaining - amount if 0 < amount <= remaining else None


def restored(remaining: int, amount: int, limit: int) -> int:
    """The remaining limit once an amount is given back; never above the limit (which
    may have been lowered by configuration since the deposit)."""
    return min(limit, remaining + amount)


def charge_accepted(payment_method: str, settings: DepositSettings) -> bool:
    return payment_method not in settings.declined_payment_methods


def charge_customer(payment_id: str, amount: int, payment_method: str, settings: DepositSettings) -> bool:
    """The simulated charge of the customer's payment method (the seed's chargeCustomer)."""
    accepted = charge_accepted(payment_method, settings)
    log.info("Charging payment %s: %d by %s: %s", payment_id, amount, payment_method,
             "accepted" if accepted else "declined")
    return accepted


def with_notice(notices: list[Notice], notice: Notice) -> list[Notice]:
    return [*notices, notice][-KEPT_NOTICES:]


def notice(kind: NoticeKind, deposit_id: str, request: DepositRequest, message: str) -> Notice:
    return Notice(kind=kind, depositId=deposit_id, userId=request.userId, walletId=request.walletId,
                  amount=request.amount, message=message)


# --- the seed's helper services ---------------------------------------------------------

@dataclass(frozen=True)
class DepositApis:
    rg: restate.VirtualObject
    update_limit: Call
    reset_limit: Call
    wallet: restate.VirtualObject
    credit: Call
    comms: restate.VirtualObject
    notify: Call

    @property
    def services(self) -> list[restate.VirtualObject]:
        return [self.rg, self.wallet, self.comms]


def build_rg(settings: DepositSettings) -> tuple[restate.VirtualObject, Call, Call]:
    rg = restate.VirtualObject("RGService")

    async def remaining_of(ctx: restate.ObjectContext | restate.ObjectSharedContext) -> int:
        remaining: int | None = await ctx.get(LIMIT, type_hint=int)
        return settings.limit if remaining is None else remaining

    @rg.handler("updateLimit", **private("PaymentService/deposit lowers the limit"))
    async def update_limit(ctx: restate.ObjectContext, amount: int) -> bool:
        after = lowered(await remaining_of(ctx), amount)
        if after is None:
            return False
        ctx.set(LIMIT, after)
        return True

    @rg.handler("resetLimit", **private("PaymentService/deposit gives the limit back"))
    async def reset_limit(ctx: restate.ObjectContext, amount: int) -> int:
        after = restored(await remaining_of(ctx), amount, settings.limit)
        ctx.set(LIMIT, after)
        log.info("Deposit limit of user %s restored by %d to %d", ctx.key(), amount, after)
        return after

    @rg.handler("getLimit", kind="shared", **QUERY)
    async def get_limit(ctx: restate.ObjectSharedContext) -> DepositLimit:
        return DepositLimit(userId=ctx.key(), remaining=await remaining_of(ctx), limit=settings.limit)

    return rg, update_limit, reset_limit


def build_wallet() -> tuple[restate.VirtualObject, Call]:
    wallet = restate.VirtualObject("WalletService")

    @wallet.handler("deposit", **private("PaymentService/deposit credits the wallet"))
    async def credit(ctx: restate.ObjectContext, amount: int) -> int:
        balance = (await ctx.get(BALANCE, type_hint=int) or 0) + amount
        ctx.set(BALANCE, balance)
        log.info("Wallet %s credited %d: balance %d", ctx.key(), amount, balance)
        return balance

    @wallet.handler("getBalance", kind="shared", **QUERY)
    async def get_balance(ctx: restate.ObjectSharedContext) -> int:
        return await ctx.get(BALANCE, type_hint=int) or 0

    return wallet, credit


def build_comms() -> tuple[restate.VirtualObject, Call]:
    comms = restate.VirtualObject("CommsService")

    @comms.handler("notify", **private("PaymentService/deposit sends its notices"))
    async def notify(ctx: restate.ObjectContext, sent: Notice) -> None:
        log.info("Notifying %s: deposit %s of %d (user %s): %s", sent.kind, sent.depositId, sent.amount,
                 sent.userId, sent.message)
        ctx.set(NOTICES, with_notice(await ctx.get(NOTICES, serde=NOTICE_LIST) or [], sent), serde=NOTICE_LIST)

    @comms.handler("getNotices", kind="shared", output_serde=NOTICE_LIST, **QUERY)
    async def get_notices(ctx: restate.ObjectSharedContext) -> list[Notice]:
        return await ctx.get(NOTICES, serde=NOTICE_LIST) or []

    return comms, notify


def build_apis(settings: DepositSettings) -> DepositApis:
    rg, update_limit, reset_limit = build_rg(settings)
    wallet, credit = build_wallet()
    comms, notify = build_comms()
    return DepositApis(rg, update_limit, reset_limit, wallet, credit, comms, notify)


# --- PaymentService/deposit -------------------------------------------------------------

async def deposit(ctx: restate.Context, apis: DepositApis, settings: DepositSettings,
                  request: DepositRequest) -> bool:
    # Restate does not show the idempotency key to the handler, but derives the invocation
    # id from it: the same deposit (Kafka record key, HTTP idempotency-key) has the same id.
    deposit_id = ctx.request().id
    user, amount = request.userId, request.amount

    def tell(kind: NoticeKind, message: str) -> None:
        ctx.object_send(apis.notify, key=request.email, arg=notice(kind, deposit_id, request, message))

    if not await ctx.object_call(apis.update_limit, key=user, arg=amount):
        log.info("Deposit %s of %d refused: over the remaining limit of user %s", deposit_id, amount, user)
        tell("failure", f"Deposit of {amount} refused: it exceeds your remaining deposit limit")
        return False
    charged = await ctx.run_typed("charge customer", charge_customer, restate.RunOptions(),
                                  payment_id=str(ctx.uuid()), amount=amount,
                                  payment_method=request.paymentMethod, settings=settings)
    if not charged:
        ctx.object_send(apis.reset_limit, key=user, arg=amount)
        log.info("Deposit %s of %d declined by payment method %s", deposit_id, amount, request.paymentMethod)
        tell("failure", f"Deposit of {amount} failed: the payment was declined")
        return False
    await ctx.object_call(apis.credit, key=request.walletId, arg=amount)
    ctx.object_send(apis.reset_limit, key=user, arg=amount, send_delay=settings.limit_restore_after)
    log.info("Deposit %s of %d to wallet %s done; limit restored in %s", deposit_id, amount,
             request.walletId, settings.limit_restore_after)
    tell("success", f"Deposit of {amount} credited to wallet {request.walletId}")
    return True


def register(payment_service: restate.Service, settings: DepositSettings,
             runtime: SinkRuntime) -> list[restate.VirtualObject]:
    """Adds `deposit` to the shared PaymentService; returns the helper objects to serve."""
    apis = build_apis(settings)

    @sink_handler(payment_service.handler, TOPIC, runtime,
                  **public(f"Kafka sink of {TOPIC.name}; contract HTTP path"))
    async def handle_deposit(ctx: restate.Context, request: DepositRequest) -> bool:
        return await deposit(ctx, apis, settings, request)

    return apis.services
