"""Helpers refuse callers on Restate's ingress, against the real stack.

CONTRACT.md: the HTTP paths of its table, the Kafka sinks and the `get*` queries are
public; every other handler (a wallet credit, a limit reset, an account move, a payment's
expiry, a ledger entry, a saga step) answers an ingress caller with a 4xx and runs only
when a Switchyard handler calls it. The private handlers are taken from Restate's admin
API (what the server enforces), not from a list: a forged call to each gets a 4xx, starts
no invocation and changes no state, while the flows that call them still work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from switchyard.core.admin import RestateAdmin
from switchyard.core.poll import poll_until
from switchyard.ops.handlers_table import app_services, handler_access
from tests.integration.private_calls import post_private

GOOD_CARD = "5555555555554444"
# What a forger would send: amounts that would matter if they went through ({} otherwise).
FORGED: dict[str, Any] = {
    "WalletService/deposit": 1_000_000, "RGService/resetLimit": 10_000, "RGService/updateLimit": 1,
    "Account/deposit": 1_000_000, "Account/withdraw": 1,
}


@dataclass(frozen=True)
class Target:
    service: str
    handler: str
    keyed: bool
    takes_input: bool = True

    @property
    def name(self) -> str:
        return f"{self.service}/{self.handler}"

    def path(self, key: str) -> str:
        return f"/{self.service}/{key}/{self.handler}" if self.keyed else f"/{self.service}/{self.handler}"


def targets(admin: RestateAdmin, public: bool) -> list[Target]:
    """Every handler Restate knows of, public or private on its ingress."""
    return [Target(s["name"], h["name"], s["ty"] != "Service", h.get("input_description") != "none")
            for s in admin.services() for h in s["handlers"] if bool(h["public"]) is public]


def ingress_error(r: httpx.Response) -> str | None:
    """The message of an error the ingress made itself (no handler ran), else None."""
    try:
        body = r.json()
    except ValueError:
        return None
    if r.status_code < 400 or not isinstance(body, dict) or body.get("source") != "ingress":
        return None
    return str(body.get("message", ""))


def refused(r: httpx.Response) -> bool:
    """Restate's answer to a call of a private handler on its ingress (no invocation made)."""
    return r.status_code == 400 and "not public" in (ingress_error(r) or "")


def state(admin: RestateAdmin, *keys: str) -> list[tuple[str, str, str, str]]:
    listed = ", ".join(f"'{k}'" for k in keys)
    rows = admin.query(f"SELECT service_name, service_key, key, value_utf8 FROM state "
                       f"WHERE service_key IN ({listed}) ORDER BY service_name, service_key, key")
    return [(r["service_name"], r["service_key"], r["key"], r["value_utf8"]) for r in rows]


def pending(admin: RestateAdmin, *keys: str) -> list[dict[str, Any]]:
    listed = ", ".join(f"'{k}'" for k in keys)
    return admin.query(f"SELECT id, target FROM sys_invocation WHERE target_service_key IN ({listed}) "
                       f"AND status <> 'completed'")


def ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


def trip() -> dict[str, Any]:
    return {"flights": {"flightId": "12345", "passengerName": "John Doe"},
            "car": {"pickupLocation": "Airport", "rentalDate": "2024-12-16"},
            "paymentInfo": {"cardNumber": GOOD_CARD, "amount": 1500}}


def call(ingress: httpx.Client, target: Target, key: str, body: Any) -> httpx.Response:
    if not target.takes_input:
        return post_private(ingress, target.path(key))
    return post_private(ingress, target.path(key), json=body)


def forge(ingress: httpx.Client, target: Target, key: str) -> httpx.Response:
    return call(ingress, target, key, FORGED.get(target.name, {}))


def test_restate_knows_the_apps_private_handlers(admin: RestateAdmin) -> None:
    known = {t.name for t in targets(admin, public=False)}
    assert known == {a.target for a in handler_access(app_services()) if a.private}
    assert {"WalletService/deposit", "RGService/resetLimit", "Account/deposit", "PaymentProcessor/expire"} <= known


def test_a_forged_call_to_every_private_handler_is_refused_and_changes_nothing(
        ingress: httpx.Client, admin: RestateAdmin, unique: str) -> None:
    email = f"{unique}@example.com"
    # State under this test's keys, made the public way: a deposit (limit, wallet, notice),
    # a booked trip (the travel ledgers) and a payment (the account).
    deposit = {"walletId": unique, "userId": unique, "email": email, "amount": 100, "paymentMethod": "creditCard"}
    assert ok(ingress.post("/PaymentService/deposit", json=deposit, headers={"idempotency-key": unique})) is True
    ok(ingress.post(f"/BookingWorkflow/{unique}/run", json=trip()))
    assert ok(ingress.post(f"/PaymentProcessor/{unique}/makePayment",
                           json={"accountId": unique, "amountCents": 100}))["success"] is True
    # The deposit's limit comes back and the payment token expires after 3 s (delayed calls):
    # let them land first, so that only a forged call could change anything below.
    poll_until(lambda: not pending(admin, unique, email), timeout=30, what="the flows' delayed calls")
    before = state(admin, unique, email)
    assert {row[0] for row in before} >= {"RGService", "WalletService", "CommsService", "Flights", "CarRentals",
                                          "PaymentGateway", "Account"}

    private = targets(admin, public=False)
    answers = {f"{t.name} @ {key}": forge(ingress, t, key) for t in private
               for key in ([unique, email] if t.keyed else [unique])}
    assert len(answers) > 15
    assert {w: (r.status_code, r.text) for w, r in answers.items() if not refused(r)} == {}
    assert state(admin, unique, email) == before
    assert pending(admin, unique, email) == []
    # No invocation of a private handler was ever started from the ingress, by this test or any other.
    names = ", ".join(f"'{t.name}'" for t in private)
    assert admin.query(f"SELECT id, target FROM sys_invocation WHERE invoked_by = 'ingress' "
                       f"AND target IN ({names})") == []
    assert ok(ingress.post(f"/WalletService/{unique}/getBalance")) == 100
    assert ok(ingress.post(f"/Account/{unique}/getBalance")) + 100 == ok(
        ingress.post(f"/Account/{unique}-untouched/getBalance"))


def test_a_forged_expiry_leaves_the_payment(ingress: httpx.Client, unique: str) -> None:
    # The test stack expires a token 3 s after it leaves NEW; the forged call comes at once.
    assert ok(ingress.post(f"/PaymentProcessor/{unique}/makePayment",
                           json={"accountId": unique, "amountCents": 100}))["success"] is True
    r = ingress.post(f"/PaymentProcessor/{unique}/expire")
    assert refused(r), r.text
    assert ok(ingress.post(f"/PaymentProcessor/{unique}/getStatus"))["status"] == "COMPLETED_SUCCESSFULLY"


def test_the_curl_from_the_issue_credits_nothing(ingress: httpx.Client, unique: str) -> None:
    r = ingress.post(f"/WalletService/{unique}/deposit", content=b"1000000",
                     headers={"content-type": "application/json"})
    assert refused(r), r.text
    assert ok(ingress.post(f"/WalletService/{unique}/getBalance")) == 0


@pytest.mark.parametrize("send", ["send", "call"])
def test_a_private_handler_refuses_a_one_way_send_too(ingress: httpx.Client, unique: str, send: str) -> None:
    path = f"/RGService/{unique}/resetLimit" + ("/send" if send == "send" else "")
    r = ingress.post(path, content=json.dumps(10_000).encode(), headers={"content-type": "application/json"})
    assert refused(r), r.text
    assert ok(ingress.post(f"/RGService/{unique}/getLimit"))["remaining"] == 10_000


def test_the_public_handlers_still_answer(ingress: httpx.Client, admin: RestateAdmin, unique: str) -> None:
    """Each one is reached and answers itself (on keys of this test's own): an empty body
    gets the handler's 400 naming a field, a query its value or 404, a command its result."""
    answers = {t.name: call(ingress, t, f"{unique}-{t.handler}", {}) for t in targets(admin, public=True)}
    assert len(answers) > 30
    assert {n: (r.status_code, r.text) for n, r in answers.items()
            if r.status_code >= 500 or ingress_error(r) is not None} == {}
