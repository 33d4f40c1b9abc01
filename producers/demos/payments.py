"""PaymentProcessor demo: the seed's make and cancel over HTTP, then make/cancel commands
in awkward orders through `payment-commands` (a cancel that overtakes its payment, a
repeated make, a double cancel) and an unknown action dead-lettered; the account's balance
shows one withdrawal and one refund at most per token."""

from __future__ import annotations

import json
import uuid

from producers.demos.base import DemoEnv, show_dead_letter, show_result
from schemas.catalogue import topic

TOPIC = topic("payment-commands")


def make(account: str, cents: int) -> bytes:
    return json.dumps({"action": "makePayment", "accountId": account, "amountCents": cents}).encode()


CANCEL = json.dumps({"action": "cancelPayment"}).encode()


def run(env: DemoEnv) -> None:
    env.say("PaymentProcessor: make and cancel by payment token, in any order, at most one withdrawal")
    run_id = uuid.uuid4().hex[:6]  # tokens are one-shot until they expire: fresh ones per run
    token, account = f"some-string-id-{run_id}", f"abc-{run_id}"
    opening = env.call(f"/Account/{account}/getBalance")
    env.say(f"  account {account} opens with {opening} cents")
    env.show(f"POST /PaymentProcessor/{token}/makePayment",
             env.call(f"/PaymentProcessor/{token}/makePayment", {"accountId": account, "amountCents": 100}))
    env.show(f"POST /PaymentProcessor/{token}/cancelPayment", env.call(f"/PaymentProcessor/{token}/cancelPayment"))
    env.show(f"POST /PaymentProcessor/{token}/getStatus  (restate kv get PaymentProcessor {token})",
             env.call(f"/PaymentProcessor/{token}/getStatus"))

    early, twice = f"cancel-first-{run_id}", f"make-twice-{run_id}"
    with env.reader([TOPIC.results, TOPIC.dlq]) as reader:
        env.send(TOPIC.name, [
            (early, CANCEL), (early, make(account, 200)),
            (twice, make(account, 300)), (twice, make(account, 300)), (twice, CANCEL), (twice, CANCEL),
            (twice, b'{"action": "refundPayment"}'),
        ])
        records = env.wait(reader, {TOPIC.results: 6, TOPIC.dlq: 1})
    for record in records:
        (show_result if record.topic == TOPIC.results else show_dead_letter)(env, record)
    for t in (early, twice):
        env.show(f"POST /PaymentProcessor/{t}/getStatus", env.call(f"/PaymentProcessor/{t}/getStatus"))
    env.say(f"  account {account}: {env.call(f'/Account/{account}/getBalance')} cents (opened with {opening}): "
            f"every withdrawal refunded; tokens expire after {env.settings.payments.expiry}")
