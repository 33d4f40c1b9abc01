"""Betting deposits demo: the seed's curl commands (without and with an idempotency key),
then deposits through `wallet-deposits`: one under the limit, one over what remains, the
first one redelivered (credited once) and a bad record dead-lettered; the wallet, the
remaining limit and the notices sent."""

from __future__ import annotations

import json
import uuid

from producers.demos.base import DemoEnv, show_dead_letter, show_result
from schemas.catalogue import topic

TOPIC = topic("wallet-deposits")


def deposit_over_http(env: DemoEnv, body: dict[str, object], key: str | None = None) -> None:
    headers = {"idempotency-key": key} if key else None
    env.say(f"  POST /PaymentService/deposit  {json.dumps(body)}" + (f"  idempotency-key: {key}" if key else ""))
    response = env.http.post("/PaymentService/deposit", json=body, headers=headers)
    env.say(f"  -> {response.text}")


def show_player(env: DemoEnv, wallet: str, user: str, email: str) -> None:
    env.say(f"  wallet {wallet}: balance {env.call(f'/WalletService/{wallet}/getBalance')}")
    limit = env.call(f"/RGService/{user}/getLimit")
    env.say(f"  user {user}: {limit['remaining']} of {limit['limit']} left to deposit "
            f"(each deposit is given back after {env.settings.deposits.limit_restore_after})")
    env.say(f"  notices to {email} (POST /CommsService/{email}/getNotices):")
    for notice in env.http.post(f"/CommsService/{email}/getNotices").json():
        env.say(f"    {notice['kind']}: {notice['message']}")


def run(env: DemoEnv) -> None:
    env.say("PaymentService/deposit: betting deposits under a per-user limit, deduplicated by key")
    run_id = uuid.uuid4().hex[:6]  # fresh users and keys, so the scene can be run again
    wallet, user, email = f"exampleWalletId-{run_id}", f"exampleUserId-{run_id}", f"example-{run_id}@example.com"
    body: dict[str, object] = {"walletId": wallet, "userId": user, "email": email, "amount": 100,
                               "paymentMethod": "creditCard"}
    env.say("  the seed's curl without an idempotency key, twice: two deposits")
    deposit_over_http(env, body)
    deposit_over_http(env, body)
    env.say("  and with one, twice: one deposit")
    deposit_over_http(env, body, f"ad5472esg4dsg525dssdfa5loi-{run_id}")
    deposit_over_http(env, body, f"ad5472esg4dsg525dssdfa5loi-{run_id}")

    first = (f"dep-{run_id}-1", json.dumps({**body, "amount": 4000}).encode())
    with env.reader([TOPIC.results, TOPIC.dlq]) as reader:
        env.send(TOPIC.name, [first])
        records = env.wait(reader, {TOPIC.results: 1})
        # Deposits on different keys run in parallel: these go once the first is in.
        env.send(TOPIC.name, [(f"dep-{run_id}-2", json.dumps({**body, "amount": 9000}).encode()), first,
                              (f"dep-{run_id}-3", json.dumps({**body, "amount": "lots"}).encode())])
        records += env.wait(reader, {TOPIC.results: 2, TOPIC.dlq: 1})
    for record in records:
        (show_result if record.topic == TOPIC.results else show_dead_letter)(env, record)
    show_player(env, wallet, user, email)
