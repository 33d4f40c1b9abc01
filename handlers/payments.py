"""PaymentProcessor: the payment state machine, one virtual object per payment token, fed by
`payment-commands`; and `Account`, the account objects it withdraws from and refunds to.

Make and cancel may arrive in any order and any number of times; one at a time per token
(virtual object exclusivity), so the rules below are all the synchronisation there is:

* make when NEW withdraws once; when COMPLETED_SUCCESSFULLY or CANCELLED it is refused;
  a refused withdrawal (insufficient funds) leaves the token NEW, so it may be tried again;
* cancel when NEW marks the token CANCELLED, so a make that arrives later never withdraws;
  cancel when COMPLETED_SUCCESSFULLY refunds the withdrawal; cancel when CANCELLED does nothing.

When a token first leaves NEW it sends itself a delayed `expire` (a durable timer of
`PaymentStateSettings.expiry`) that clears `status` and `payment`. Every later event finds
a token already out of NEW, so one timer per token life is ever pending. The sink's Kafka
dedup mark (`kafka-applied`) is kept, so a rewound subscription still applies nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import restate
from restate.logging import RestateLoggingFilter

from handlers.access import QUERY, private, public
from handlers.settings import PaymentStateSettings
from schemas.catalogue import topic
from schemas.payments import (
    AccountResult,
    CancelPaymentCommand,
    MakePaymentCommand,
    Payment,
    PaymentResult,
    PaymentStatus,
    PaymentView,
)
from switchyard.core.serde import TypedSerde
from switchyard.core.sink import SinkRuntime, body_handler, sink_handler

log = logging.getLogger(__name__)
# Replay-aware: a handler resumed from its journal does not tell its story twice.
log.addFilter(RestateLoggingFilter())
TOPIC = topic("payment-commands")
STATUS = "status"
PAYMENT = "payment"
BALANCE = "balance"
Call = Callable[..., Awaitable[Any]]
STATUS_SERDE: TypedSerde[PaymentStatus] = TypedSerde(PaymentStatus)

MakeDecision = Literal["withdraw", "refuse-cancelled", "refuse-completed"]
CancelDecision = Literal["mark-cancelled", "refund", "already-cancelled"]


# --- decisions (plain functions, unit-tested) -------------------------------------------

def on_make(status: PaymentStatus) -> MakeDecision:
    if status == "CANCELLED":
        return "refuse-cancelled"
    if status == "COMPLETED_SUCCESSFULLY":
        return "refuse-completed"
    return "withdraw"


def on_cancel(status: PaymentStatus) -> CancelDecision:
    if status == "NEW":
        return "mark-cancelled"  # the cancel overtook its payment: block the payment
    if status == "COMPLETED_SUCCESSFULLY":
        return "refund"
    return "already-cancelled"


def withdrawn(balance: int, amount_cents: int) -> int | None:
    """The balance after withdrawing, or None if it does not cover the amount."""
    return balance - amount_cents if balance >= amount_cents else None


def positive(amount_cents: int) -> int:
    if amount_cents <= 0:
        raise restate.TerminalError(f"Amount must be greater than 0, got {amount_cents}", 400)
    return amount_cents


# --- Account ----------------------------------------------------------------------------

@dataclass(frozen=True)
class AccountApi:
    """The Account object and its handlers, for `ctx.object_call`."""

    service: restate.VirtualObject
    withdraw: Call
    deposit: Call


def build_account(settings: PaymentStateSettings) -> AccountApi:
    """Accounts keyed by accountId, state `balance` in cents (the seed's Account)."""
    account = restate.VirtualObject("Account")

    async def balance_of(ctx: restate.ObjectContext | restate.ObjectSharedContext) -> int:
        balance: int | None = await ctx.get(BALANCE, type_hint=int)
        return settings.opening_balance_cents if balance is None else balance

    @account.handler("withdraw", **private("PaymentProcessor takes a payment from the account"))
    async def withdraw(ctx: restate.ObjectContext, amount_cents: int) -> AccountResult:
        balance = await balance_of(ctx)
        after = withdrawn(balance, positive(amount_cents))
        if after is None:
            log.info("Account %s: %d cents refused, balance %d", ctx.key(), amount_cents, balance)
            return AccountResult(success=False, reason=f"Insufficient funds: {balance} cents")
        ctx.set(BALANCE, after)
        log.info("Account %s: withdrew %d cents, balance %d", ctx.key(), amount_cents, after)
        return AccountResult(success=True, reason="Withdrawal successful")

    @account.handler("deposit", **private("PaymentProcessor refunds a cancelled payment"))
    async def deposit(ctx: restate.ObjectContext, amount_cents: int) -> int:
        after = await balance_of(ctx) + positive(amount_cents)
        ctx.set(BALANCE, after)
        log.info("Account %s: deposited %d cents, balance %d", ctx.key(), amount_cents, after)
        return after

    @account.handler("getBalance", kind="shared", **QUERY)
    async def get_balance(ctx: restate.ObjectSharedContext) -> int:
        return await balance_of(ctx)

    return AccountApi(account, withdraw, deposit)


# --- PaymentProcessor -------------------------------------------------------------------

@dataclass(frozen=True)
class Processor:
    settings: PaymentStateSettings
    account: AccountApi
    expire: Call

    def start_expiry(self, ctx: restate.ObjectContext) -> None:
        ctx.object_send(self.expire, key=ctx.key(), arg=None, send_delay=self.settings.expiry)


async def status_of(ctx: restate.ObjectContext | restate.ObjectSharedContext) -> PaymentStatus:
    return await ctx.get(STATUS, serde=STATUS_SERDE) or "NEW"


async def make(ctx: restate.ObjectContext, p: Processor, payment: Payment) -> PaymentResult:
    token, status = ctx.key(), await status_of(ctx)
    match on_make(status):
        case "refuse-cancelled":
            log.info("Payment %s already cancelled: no withdrawal", token)
            return PaymentResult(success=False, reason="Payment already cancelled", status=status)
        case "refuse-completed":
            log.info("Payment %s already completed: no second withdrawal", token)
            return PaymentResult(success=False, reason="Payment already completed in prior call", status=status)
    result: AccountResult = await ctx.object_call(p.account.withdraw, key=payment.accountId, arg=payment.amountCents)
    if not result.success:
        # Nothing was charged: the token stays NEW, so the caller may try again.
        log.info("Payment %s not made: %s", token, result.reason)
        return PaymentResult(success=False, reason=result.reason, status="NEW")
    ctx.set(STATUS, "COMPLETED_SUCCESSFULLY", serde=STATUS_SERDE)
    ctx.set(PAYMENT, payment)
    p.start_expiry(ctx)
    log.info("Payment %s made: %d cents from account %s", token, payment.amountCents, payment.accountId)
    return PaymentResult(success=True, reason=result.reason, status="COMPLETED_SUCCESSFULLY")


async def cancel(ctx: restate.ObjectContext, p: Processor) -> PaymentResult:
    token = ctx.key()
    match on_cancel(await status_of(ctx)):
        case "already-cancelled":
            log.info("Payment %s already cancelled: nothing to do", token)
            return PaymentResult(success=True, reason="Payment already cancelled", status="CANCELLED")
        case "mark-cancelled":
            ctx.set(STATUS, "CANCELLED", serde=STATUS_SERDE)
            p.start_expiry(ctx)
            log.info("Payment %s cancelled before it was made: a later makePayment is refused", token)
            return PaymentResult(success=True, reason="Payment cancelled before it was made", status="CANCELLED")
    ctx.set(STATUS, "CANCELLED", serde=STATUS_SERDE)
    payment = await ctx.get(PAYMENT, type_hint=Payment)
    if payment is None:  # COMPLETED_SUCCESSFULLY is always written with its payment
        raise restate.TerminalError(f"Payment {token} is completed but its payment is missing", 500)
    await ctx.object_call(p.account.deposit, key=payment.accountId, arg=payment.amountCents)
    log.info("Payment %s cancelled: %d cents refunded to account %s", token, payment.amountCents, payment.accountId)
    return PaymentResult(success=True, reason=f"Payment cancelled and {payment.amountCents} cents refunded",
                         status="CANCELLED")


def build(settings: PaymentStateSettings, runtime: SinkRuntime) -> list[restate.VirtualObject]:
    """PaymentProcessor and Account."""
    processor = restate.VirtualObject("PaymentProcessor")

    @processor.handler("expire", **private("the token's own expiry timer (a delayed self-call)"))
    async def expire(ctx: restate.ObjectContext) -> None:
        ctx.clear(STATUS)
        ctx.clear(PAYMENT)
        log.info("Payment %s expired: token state cleared", ctx.key())

    p = Processor(settings, build_account(settings), expire)

    @body_handler(processor.handler, "makePayment", Payment, **public("contract HTTP path: makes the payment"))
    async def make_payment(ctx: restate.ObjectContext, payment: Payment) -> PaymentResult:
        return await make(ctx, p, payment)

    @processor.handler("cancelPayment", **public("contract HTTP path: cancels the payment"))
    async def cancel_payment(ctx: restate.ObjectContext) -> PaymentResult:
        return await cancel(ctx, p)

    @sink_handler(processor.handler, TOPIC, runtime,
                  **public(f"Kafka sink of {TOPIC.name} (what makePayment/cancelPayment do)"))
    async def handle_command(
        ctx: restate.ObjectContext, command: MakePaymentCommand | CancelPaymentCommand
    ) -> PaymentResult:
        if isinstance(command, CancelPaymentCommand):
            return await cancel(ctx, p)
        return await make(ctx, p, Payment(accountId=command.accountId, amountCents=command.amountCents))

    @processor.handler("getStatus", kind="shared", **QUERY)
    async def get_status(ctx: restate.ObjectSharedContext) -> PaymentView:
        return PaymentView(paymentId=ctx.key(), status=await status_of(ctx),
                           payment=await ctx.get(PAYMENT, type_hint=Payment))

    return [processor, p.account.service]
