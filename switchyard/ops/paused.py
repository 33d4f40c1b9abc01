"""Paused invocations: Kafka records whose retries ran out, waiting for an operator.

restate.toml's retry policy pauses an invocation (rather than killing it) once its
attempts are spent: a dependency that stays down longer than every timeout must not end
records with no outcome or a made-up one. A paused invocation keeps its journal and holds
only its own key; `switchyard status` lists them and `switchyard resume` continues them
once the cause is fixed, each from where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from switchyard.core.admin import RestateAdmin
from switchyard.core.catalogue import Topic
from switchyard.serving import current_app

PAUSED_SQL = """
SELECT id, target_service_name, target_handler_name, target_service_key, last_failure, retry_count
FROM sys_invocation WHERE status = 'paused' ORDER BY modified_at
"""


@dataclass(frozen=True)
class PausedInvocation:
    id: str
    target: str
    key: str | None
    last_failure: str | None
    attempts: int

    @property
    def topic(self) -> Topic | None:
        """The input topic whose record this invocation handles, if any."""
        for t in current_app().catalogue().topics:
            if self.target in (t.target, f"{t.subscribed_service}/{t.subscribed_handler}"):
                return t
        return None

    def line(self) -> str:
        where = f"{self.target}" + (f" key {self.key}" if self.key else "")
        failure = (self.last_failure or "no failure recorded").splitlines()[0][:160]
        return f"{self.id}  {where}  after {self.attempts} attempts: {failure}"


def from_row(row: dict[str, Any]) -> PausedInvocation:
    return PausedInvocation(
        id=str(row["id"]), target=f"{row.get('target_service_name')}/{row.get('target_handler_name')}",
        key=row.get("target_service_key"), last_failure=row.get("last_failure"),
        attempts=int(row.get("retry_count") or 0),
    )


def paused(admin: RestateAdmin) -> list[PausedInvocation]:
    return [from_row(r) for r in admin.query(PAUSED_SQL)]


def select(invocations: list[PausedInvocation], topic: str | None, ids: list[str]) -> list[PausedInvocation]:
    """The paused invocations an operator named: by id, by input topic, or all of them."""
    chosen = invocations
    if topic is not None:
        chosen = [i for i in chosen if i.topic is not None and i.topic.name == topic]
    if ids:
        chosen = [i for i in chosen if i.id in ids]
    return chosen


def resume(admin: RestateAdmin, invocations: list[PausedInvocation]) -> list[str]:
    for invocation in invocations:
        admin.resume_invocation(invocation.id)
    return [i.id for i in invocations]
