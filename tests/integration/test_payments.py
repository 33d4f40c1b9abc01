"""PaymentProcessor (payment state machine) and Account through Kafka and HTTP, against the
real stack. Each test uses accounts of its own, so the balance tells exactly how many
withdrawals and refunds took effect. The test stack expires tokens after 3 s."""

from __future__ import annotations

import json
import random
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from handlers.settings import ExampleStackSettings as Settings
from producers.demos import payments as demo
from schemas.catalogue import topic
from switchyard.core.admin import RestateAdmin
from tests.integration.conftest import SceneOutput
from tests.integration.kafka_driver import KafkaDriver, Outcome

TOPIC = topic("payment-commands")
CANCEL = json.dumps({"action": "cancelPayment"})


def make(account: str, cents: int) -> str:
    return json.dumps({"action": "makePayment", "accountId": account, "amountCents": cents})


def answer(outcome: Outcome) -> dict[str, Any]:
    assert outcome.ok, (outcome.error, outcome.record.header("error.reason"))
    assert isinstance(outcome.result, dict)
    return outcome.result


def balance(ingress: httpx.Client, account: str) -> int:
    r = ingress.post(f"/Account/{account}/getBalance")
    assert r.status_code == 200, r.text
    return int(r.json())


def view(ingress: httpx.Client, token: str) -> dict[str, Any]:
    r = ingress.post(f"/PaymentProcessor/{token}/getStatus")
    assert r.status_code == 200, r.text
    return dict(r.json())


def state_keys(admin: RestateAdmin, token: str) -> dict[str, Any]:
    """What `restate kv get PaymentProcessor <token>` shows, from Restate's state table."""
    rows = admin.query(f"SELECT key, value_utf8 FROM state WHERE service_name = 'PaymentProcessor' "
                       f"AND service_key = '{token}'")
    return {row["key"]: json.loads(row["value_utf8"]) for row in rows}


def eventually(check: Any, timeout: float = 30.0) -> float:
    """Polls until ``check()`` is true; returns when it became true (monotonic)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return time.monotonic()


def test_the_seed_curl_commands_and_state(settings: Settings, ingress: httpx.Client, admin: RestateAdmin,
                                          unique: str) -> None:
    token, account = f"{unique}-some-string-id", f"{unique}-abc"
    base = f"{settings.restate.ingress_url}/PaymentProcessor/{token}"
    made = subprocess.run(
        ["curl", "-sS", "-X", "POST", f"{base}/makePayment", "-H", "content-type: application/json",
         "-d", f'{{  "accountId": "{account}", "amountCents": 100 }}'],
        capture_output=True, timeout=60, check=True)
    assert json.loads(made.stdout) == {"success": True, "reason": "Withdrawal successful",
                                       "status": "COMPLETED_SUCCESSFULLY"}
    opening = settings.payments.opening_balance_cents
    assert balance(ingress, account) == opening - 100
    cancelled = subprocess.run(["curl", "-sS", "-X", "POST", f"{base}/cancelPayment"],
                               capture_output=True, timeout=60, check=True)
    assert json.loads(cancelled.stdout) == {"success": True, "reason": "Payment cancelled and 100 cents refunded",
                                            "status": "CANCELLED"}
    assert balance(ingress, account) == opening
    # The seed's `restate kv get PaymentProcessor some-string-id`.
    assert state_keys(admin, token) == {"payment": {"accountId": account, "amountCents": 100},
                                        "status": "CANCELLED"}


def test_a_cancel_before_the_make_blocks_it(kafka: KafkaDriver, ingress: httpx.Client, settings: Settings,
                                            unique: str) -> None:
    token, account = f"{unique}-t", f"{unique}-acct"
    outcomes = kafka.send(TOPIC, [(token, CANCEL), (token, make(account, 300)), (token, make(account, 300))])
    results = [answer(o) for o in outcomes]
    assert results[0] == {"success": True, "reason": "Payment cancelled before it was made", "status": "CANCELLED"}
    assert results[1:] == [{"success": False, "reason": "Payment already cancelled", "status": "CANCELLED"}] * 2
    assert balance(ingress, account) == settings.payments.opening_balance_cents
    assert view(ingress, token) == {"paymentId": token, "status": "CANCELLED", "payment": None}


def test_a_double_cancel_refunds_once(kafka: KafkaDriver, ingress: httpx.Client, settings: Settings,
                                      unique: str) -> None:
    token, account = f"{unique}-t", f"{unique}-acct"
    outcomes = kafka.send(TOPIC, [(token, make(account, 250)), (token, CANCEL), (token, CANCEL),
                                  (token, make(account, 250))])
    assert [answer(o)["reason"] for o in outcomes] == [
        "Withdrawal successful", "Payment cancelled and 250 cents refunded", "Payment already cancelled",
        "Payment already cancelled"]
    assert balance(ingress, account) == settings.payments.opening_balance_cents
    assert view(ingress, token)["status"] == "CANCELLED"


def test_a_repeated_make_withdraws_once(kafka: KafkaDriver, ingress: httpx.Client, settings: Settings,
                                        unique: str) -> None:
    token, account = f"{unique}-t", f"{unique}-acct"
    outcomes = kafka.send(TOPIC, [(token, make(account, 400))] * 3)
    assert [answer(o)["success"] for o in outcomes] == [True, False, False]
    assert answer(outcomes[1])["reason"] == "Payment already completed in prior call"
    r = ingress.post(f"/PaymentProcessor/{token}/makePayment", json={"accountId": account, "amountCents": 400})
    assert r.json()["success"] is False
    assert balance(ingress, account) == settings.payments.opening_balance_cents - 400


def test_make_cancel_races_leave_the_account_consistent(
    kafka: KafkaDriver, ingress: httpx.Client, settings: Settings, unique: str
) -> None:
    """Makes and cancels on the same tokens at once, through Kafka and HTTP. Tokens that get
    a cancel end CANCELLED with nothing withdrawn; tokens that get only makes withdraw once."""
    account = f"{unique}-acct"
    rng = random.Random(unique)
    raced = {f"{unique}-raced-{n}": 100 + n for n in range(6)}
    made = {f"{unique}-made-{n}": 1000 + n for n in range(3)}
    commands = [(t, "cancel") for t in raced for _ in range(2)] + [
        (t, "make") for t in [*raced, *made] for _ in range(3)]
    rng.shuffle(commands)
    amounts = {**raced, **made}
    over_kafka = [(t, make(account, amounts[t]) if c == "make" else CANCEL) for t, c in commands[::2]]
    over_http = commands[1::2]

    def call(tc: tuple[str, str]) -> dict[str, Any]:
        token, cmd = tc
        if cmd == "make":
            r = ingress.post(f"/PaymentProcessor/{token}/makePayment",
                             json={"accountId": account, "amountCents": amounts[token]})
        else:
            r = ingress.post(f"/PaymentProcessor/{token}/cancelPayment")
        assert r.status_code == 200, r.text
        return dict(r.json())

    with ThreadPoolExecutor(8) as pool:
        kafka_done = pool.submit(kafka.send, TOPIC, over_kafka, 90.0)
        http_answers = list(pool.map(call, over_http))
        kafka_answers = [answer(o) for o in kafka_done.result()]
    assert {t: view(ingress, t)["status"] for t in raced} == dict.fromkeys(raced, "CANCELLED")
    assert {t: view(ingress, t)["status"] for t in made} == dict.fromkeys(made, "COMPLETED_SUCCESSFULLY")
    successful_makes = [a for a in kafka_answers + http_answers if a["reason"] == "Withdrawal successful"]
    refunds = [a for a in kafka_answers + http_answers if a["reason"].endswith("cents refunded")]
    assert len(successful_makes) - len(refunds) == len(made)
    assert balance(ingress, account) == settings.payments.opening_balance_cents - sum(made.values())


def test_insufficient_funds_leave_the_token_new(kafka: KafkaDriver, ingress: httpx.Client, settings: Settings,
                                                unique: str) -> None:
    token, account = f"{unique}-t", f"{unique}-acct"
    opening = settings.payments.opening_balance_cents
    outcomes = kafka.send(TOPIC, [(token, make(account, opening + 1)), (token, make(account, opening))])
    assert answer(outcomes[0]) == {"success": False, "reason": f"Insufficient funds: {opening} cents",
                                   "status": "NEW"}
    assert answer(outcomes[1])["success"] is True  # the same token, tried again
    assert balance(ingress, account) == 0


def test_the_token_expires_after_the_configured_period(
    kafka: KafkaDriver, ingress: httpx.Client, admin: RestateAdmin, settings: Settings, unique: str
) -> None:
    made, cancelled, account = f"{unique}-made", f"{unique}-cancelled", f"{unique}-acct"
    expiry = settings.payments.expiry.total_seconds()
    sent = time.monotonic()
    kafka.send(TOPIC, [(made, make(account, 100)), (cancelled, CANCEL)])
    assert view(ingress, made)["status"] == "COMPLETED_SUCCESSFULLY"
    assert view(ingress, cancelled)["status"] == "CANCELLED"
    for token in (made, cancelled):
        expired = eventually(lambda t=token: view(ingress, t)["status"] == "NEW", timeout=expiry + 30)
        assert expired - sent >= expiry - 0.2, f"{token} expired after {expired - sent:.2f}s, expiry {expiry}s"
        assert view(ingress, token) == {"paymentId": token, "status": "NEW", "payment": None}
        assert not {"status", "payment"} & set(state_keys(admin, token))
    # An expired token is a new token: the payment the cancel blocked can be made now.
    [again] = kafka.send(TOPIC, [(cancelled, make(account, 100))])
    assert answer(again)["success"] is True
    assert balance(ingress, account) == settings.payments.opening_balance_cents - 200


def test_unknown_actions_and_bad_records_go_to_the_dlq_and_change_nothing(
    kafka: KafkaDriver, ingress: httpx.Client, settings: Settings, unique: str
) -> None:
    token, account = f"{unique}-t", f"{unique}-acct"
    bad = [json.dumps({"action": "refundPayment"}).encode(),
           json.dumps({"action": "makePayment", "accountId": account}).encode(),
           json.dumps({"action": "makePayment", "accountId": account, "amountCents": "100"}).encode(),
           json.dumps({"action": "cancelPayment", "force": True}).encode(),
           json.dumps({"accountId": account, "amountCents": 100}).encode(), b"cancel"]
    outcomes = kafka.send(TOPIC, [*((token, v) for v in bad), (token, make(account, 100))])
    assert [o.dead_lettered for o in outcomes] == [True] * len(bad) + [False]
    assert [o.record.value for o in outcomes[:-1]] == bad
    assert "amountCents" in (outcomes[1].record.header("error.reason") or "")
    assert answer(outcomes[-1])["success"] is True  # the bad ones changed nothing before it
    assert balance(ingress, account) == settings.payments.opening_balance_cents - 100


def test_a_bad_make_payment_body_gets_400_naming_the_field(ingress: httpx.Client, settings: Settings,
                                                           unique: str) -> None:
    token, account = f"{unique}-t", f"{unique}-acct"
    r = ingress.post(f"/PaymentProcessor/{token}/makePayment", json={"accountId": account, "amountCents": -5})
    assert r.status_code == 400
    assert "amountCents" in r.json()["message"]
    r = ingress.post(f"/PaymentProcessor/{token}/makePayment", json={"amountCents": 5})
    assert r.status_code == 400
    assert "accountId" in r.json()["message"]
    assert view(ingress, token)["status"] == "NEW"
    assert balance(ingress, account) == settings.payments.opening_balance_cents


def test_demo_scene_runs(scene_output: SceneOutput) -> None:
    text = scene_output(demo.run)
    assert '"status": "CANCELLED"' in text
    assert "Payment already cancelled" in text
    assert "payment-commands-dlq" in text
