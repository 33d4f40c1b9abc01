"""Deposit velocity monitor: count and sum of `wallet-deposits` per user in tumbling
windows; a user over either limit in a window raises one record on `risk-alerts`.

The deposit that takes a user over a limit raises the alert and marks the window
alerted in the same table value, so later deposits in that window (and a deposit read
again after a restart, once its table write is in the changelog) raise nothing more.
The record key is the depositId, so the table is keyed by userId through the
partitioner rather than by the record's partition.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from schemas.catalogue import stream_topic, topic
from schemas.deposits import DepositRequest
from schemas.streams import Breach, RiskAlert
from streams import windows
from streams.settings import StreamsSettings

log = logging.getLogger(__name__)

DEPOSITS = topic("wallet-deposits")
ALERTS = stream_topic("risk-alerts")

State = dict[str, Any]  # {"count", "sum", "alerted"}


@dataclass(frozen=True)
class Limits:
    max_count: int
    max_sum: int


def fresh() -> State:
    return {"count": 0, "sum": 0, "alerted": False}


def breaches(count: int, total: int, limits: Limits) -> list[Breach]:
    """Which limits ``count`` deposits summing to ``total`` are over (not at)."""
    over: list[Breach] = []
    if count > limits.max_count:
        over.append("count")
    if total > limits.max_sum:
        over.append("sum")
    return over


def step(state: State, amount: int, limits: Limits) -> tuple[State, list[Breach]]:
    """One more deposit in a user's window: the new state, and the breaches to alert on
    (empty unless this deposit is the first in the window to go over a limit)."""
    count, total = state["count"] + 1, state["sum"] + amount
    over = breaches(count, total, limits)
    alert = bool(over) and not state["alerted"]
    return {"count": count, "sum": total, "alerted": state["alerted"] or alert}, over if alert else []


def parse(raw: bytes | None) -> DepositRequest | None:
    """The deposit, or None for a record the handler dead-letters anyway."""
    try:
        deposit = DEPOSITS.parse(raw or b"")
    except ValueError:
        return None
    return deposit if isinstance(deposit, DepositRequest) else None


class Velocity:
    def __init__(self, app: Any, size: int, limits: Limits) -> None:
        self.size = size
        self.limits = limits
        self.recent: deque[RiskAlert] = deque(maxlen=50)  # served on the pipeline page
        self.table = app.Table("velocity", default=fresh, use_partitioner=True,
                               help="deposits per user per velocity window").tumbling(size, expires=size * 3)
        self.alerts = app.topic(ALERTS.name, key_serializer="raw", value_serializer="raw")

    async def on_deposit(self, deposit_id: str, deposit: DepositRequest, ts: float) -> RiskAlert | None:
        start = windows.window_start(ts, self.size)
        window = self.table[deposit.userId]
        key = windows.faust_range(start, self.size)
        state, over = step(window[key], deposit.amount, self.limits)
        window[key] = state
        if not over:
            return None
        alert = RiskAlert(
            userId=deposit.userId, windowStart=start * 1000, windowEnd=(start + self.size) * 1000,
            depositCount=state["count"], depositSum=state["sum"], maxCount=self.limits.max_count,
            maxSum=self.limits.max_sum, breached=over, depositId=deposit_id,
        )
        await self.alerts.send(key=deposit.userId.encode(), value=alert.model_dump_json().encode())
        self.recent.appendleft(alert)
        log.info("risk alert: user %s over %s in window %d", deposit.userId, "+".join(over), start)
        return alert


def register(app: Any, settings: StreamsSettings) -> Velocity:
    s = settings.streams
    size = windows.whole_seconds([s.velocity_window], "streams.velocity_window")[0]
    velocity = Velocity(app, size, Limits(s.velocity_max_count, s.velocity_max_sum))

    async def watch(stream: Any) -> None:
        async for event in stream.events():
            m = event.message
            deposit = parse(m.value)
            if deposit is not None:
                await velocity.on_deposit((m.key or b"").decode(errors="replace"), deposit, m.timestamp)

    app.agent(app.topic(DEPOSITS.name, key_serializer="raw", value_serializer="raw"), name="velocity")(watch)
    return velocity
