"""PaymentService/deposit (betting) through Kafka and HTTP, against the real stack.

Each test has users, wallets and addresses of its own. The test stack restores a deposit's
limit after 3 s. Deposits on different keys run in parallel (a plain service), so tests
that need an order send one record at a time.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from handlers.settings import ExampleStackSettings as Settings
from producers.demos import deposits as demo
from schemas.catalogue import topic
from tests.integration.conftest import SceneOutput
from tests.integration.kafka_driver import KafkaDriver, Outcome

TOPIC = topic("wallet-deposits")


class Player:
    """One test's user, wallet and e-mail address."""

    def __init__(self, unique: str, ingress: httpx.Client) -> None:
        self.user, self.wallet, self.email = f"{unique}-user", f"{unique}-wallet", f"{unique}@example.com"
        self.ingress = ingress

    def deposit(self, amount: int, method: str = "creditCard") -> str:
        return json.dumps({"walletId": self.wallet, "userId": self.user, "email": self.email, "amount": amount,
                           "paymentMethod": method})

    def remaining(self) -> int:
        return int(self._post(f"/RGService/{self.user}/getLimit")["remaining"])

    def balance(self) -> int:
        return int(self._post(f"/WalletService/{self.wallet}/getBalance"))

    def notices(self) -> list[dict[str, Any]]:
        return list(self._post(f"/CommsService/{self.email}/getNotices"))

    def _post(self, path: str) -> Any:
        r = self.ingress.post(path)
        assert r.status_code == 200, r.text
        return r.json()


def answer(outcome: Outcome) -> object:
    assert outcome.ok, (outcome.error, outcome.record.header("error.reason"))
    return outcome.result


def eventually(check: Callable[[], bool], timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return time.monotonic()


def kinds(player: Player, n: int) -> list[str]:
    """The kinds of the address's notices, once there are ``n`` (they are sent, not awaited)."""
    eventually(lambda: len(player.notices()) >= n)
    return [notice["kind"] for notice in player.notices()]


def curl_deposit(settings: Settings, body: str, idempotency_key: str | None = None) -> Any:
    """The seed README's curl command (POST by -d)."""
    cmd = ["curl", "-sS", f"{settings.restate.ingress_url}/PaymentService/deposit",
           "-H", "Content-Type: application/json"]
    if idempotency_key is not None:
        cmd += ["-H", f"idempotency-key: {idempotency_key}"]
    done = subprocess.run([*cmd, "-d", body], capture_output=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_the_seed_curl_commands_with_and_without_idempotency_key(
    settings: Settings, ingress: httpx.Client, unique: str
) -> None:
    p = Player(unique, ingress)
    body = json.dumps({"walletId": p.wallet, "userId": p.user, "email": p.email, "amount": 100,
                       "paymentMethod": "creditCard"}, indent=4)
    assert [curl_deposit(settings, body), curl_deposit(settings, body)] == [True, True]
    assert p.balance() == 200  # no key: two deposits
    key = f"{unique}-ad5472esg4dsg525dssdfa5loi"
    assert [curl_deposit(settings, body, key), curl_deposit(settings, body, key)] == [True, True]
    assert p.balance() == 300  # the same key: deduplicated by Restate
    assert p.remaining() == settings.deposits.limit - 300
    assert kinds(p, 3) == ["success"] * 3


def test_deposits_under_over_and_at_the_remaining_limit(kafka: KafkaDriver, settings: Settings,
                                                        ingress: httpx.Client, unique: str) -> None:
    p = Player(unique, ingress)
    limit = settings.deposits.limit
    steps = [(limit - 6000, True), (6001, False), (6000, True), (1, False)]
    for n, (amount, accepted) in enumerate(steps):
        [outcome] = kafka.send(TOPIC, [(f"{unique}-dep-{n}", p.deposit(amount))])
        assert answer(outcome) is accepted, (amount, outcome.result)
    assert p.balance() == limit
    assert p.remaining() == 0
    assert kinds(p, 4) == ["success", "failure", "success", "failure"]
    assert "exceeds your remaining deposit limit" in p.notices()[1]["message"]


def test_over_the_limit_changes_nothing_but_a_failure_notice(ingress: httpx.Client, settings: Settings,
                                                             unique: str) -> None:
    p = Player(unique, ingress)
    r = ingress.post("/PaymentService/deposit", content=p.deposit(settings.deposits.limit + 1),
                     headers={"content-type": "application/json"})
    assert r.json() is False
    assert (p.balance(), p.remaining()) == (0, settings.deposits.limit)
    assert kinds(p, 1) == ["failure"]


def test_a_declined_charge_gives_the_limit_back_at_once(ingress: httpx.Client, settings: Settings,
                                                        unique: str) -> None:
    p = Player(unique, ingress)
    [declined] = settings.deposits.declined_payment_methods[:1]
    r = ingress.post("/PaymentService/deposit", content=p.deposit(500, method=declined),
                     headers={"content-type": "application/json"})
    assert r.json() is False
    assert kinds(p, 1) == ["failure"]
    eventually(lambda: p.remaining() == settings.deposits.limit, timeout=10)
    assert p.balance() == 0


def test_the_limit_is_restored_after_the_configured_period(kafka: KafkaDriver, ingress: httpx.Client,
                                                           settings: Settings, unique: str) -> None:
    p = Player(unique, ingress)
    limit, after = settings.deposits.limit, settings.deposits.limit_restore_after.total_seconds()
    sent = time.monotonic()
    [full] = kafka.send(TOPIC, [(f"{unique}-full", p.deposit(limit))])
    assert answer(full) is True
    assert p.remaining() == 0
    [refused] = kafka.send(TOPIC, [(f"{unique}-more", p.deposit(1))])
    assert answer(refused) is False
    restored = eventually(lambda: p.remaining() == limit, timeout=after + 30)
    assert restored - sent >= after - 0.2, f"restored after {restored - sent:.2f}s, configured {after}s"
    [again] = kafka.send(TOPIC, [(f"{unique}-again", p.deposit(limit))])
    assert answer(again) is True
    assert p.balance() == 2 * limit


def test_concurrent_deposits_never_exceed_the_limit(kafka: KafkaDriver, ingress: httpx.Client,
                                                    settings: Settings, unique: str) -> None:
    p = Player(unique, ingress)
    share = settings.deposits.limit * 3 // 10  # three fit, the fourth does not

    def over_http(n: int) -> bool:
        r = ingress.post("/PaymentService/deposit", content=p.deposit(share),
                         headers={"content-type": "application/json", "idempotency-key": f"{unique}-http-{n}"})
        assert r.status_code == 200, r.text
        return bool(r.json())

    with ThreadPoolExecutor(5) as pool:
        via_kafka = pool.submit(kafka.send, TOPIC, [(f"{unique}-k{n}", p.deposit(share)) for n in range(4)], 90.0)
        answers = list(pool.map(over_http, range(4)))
        answers += [bool(answer(o)) for o in via_kafka.result()]
    assert sum(answers) == 3
    assert p.balance() == 3 * share
    assert p.remaining() == settings.deposits.limit - 3 * share
    assert sorted(kinds(p, 8)) == ["failure"] * 5 + ["success"] * 3


def test_a_redelivered_record_credits_once(kafka: KafkaDriver, ingress: httpx.Client, settings: Settings,
                                           unique: str) -> None:
    p = Player(unique, ingress)
    key, value = f"{unique}-dep", p.deposit(700)
    outcomes = kafka.send(TOPIC, [(key, value), (key, value)])
    outcomes += kafka.send(TOPIC, [(key, value)])
    assert [answer(o) for o in outcomes] == [True, True, True]
    assert len({o.sent for o in outcomes}) == 3
    assert p.balance() == 700
    assert p.remaining() == settings.deposits.limit - 700
    assert kinds(p, 1) == ["success"]


def test_bad_records_go_to_the_dlq_and_change_nothing(kafka: KafkaDriver, ingress: httpx.Client,
                                                      settings: Settings, unique: str) -> None:
    p = Player(unique, ingress)
    good = json.loads(p.deposit(100))
    bad = [json.dumps({**good, "amount": "100"}).encode(), json.dumps({**good, "email": "nobody"}).encode(),
           json.dumps({k: v for k, v in good.items() if k != "walletId"}).encode(),
           json.dumps({**good, "currency": "EUR"}).encode(), json.dumps({**good, "amount": -100}).encode()]
    outcomes = kafka.send(TOPIC, [(f"{unique}-bad-{n}", v) for n, v in enumerate(bad)])
    assert all(o.dead_lettered for o in outcomes)
    assert [o.record.value for o in outcomes] == bad
    assert "amount" in (outcomes[0].record.header("error.reason") or "")
    assert "walletId" in (outcomes[2].record.header("error.reason") or "")
    assert (p.balance(), p.remaining(), p.notices()) == (0, settings.deposits.limit, [])
    r = ingress.post("/PaymentService/deposit", content=bad[1], headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert "email" in r.json()["message"]


def test_demo_scene_runs(scene_output: SceneOutput) -> None:
    text = scene_output(demo.run)
    assert "-> true" in text
    assert "ok=True false" in text  # the deposit over what remains
    assert "exceeds your remaining deposit limit" in text
    assert "wallet-deposits-dlq" in text
