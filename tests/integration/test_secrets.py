"""No secret (provider API key, webhook secret, Kafka SASL password, Restate's request
signing key) appears in a log, a dead letter's headers or a result.

These tests judge what the whole session wrote, so tests/integration/conftest.py runs this
module last (`pytest_collection_modifyitems`). They first drive the paths most likely to
leak a secret (payments, forged webhooks over Kafka and HTTP, bad records) so that the
check means something even when run alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import httpx
import pytest

from schemas.catalogue import TOPICS, companion_topics, topic
from switchyard.core.results import Record, TopicReader
from switchyard.settings import Settings
from switchyard.stack.stack import Stack
from tests.examples import example, registered_targets
from tests.integration.kafka_driver import KafkaDriver

Secrets = dict[str, str]  # what it is -> its value


def secrets_of(settings: Settings, home: Path) -> Secrets:
    found = {
        "provider.secret_key": settings.provider.secret_key.get_secret_value(),
        "provider.webhook_secret": settings.provider.webhook_secret.get_secret_value(),
    }
    if settings.kafka.sasl_password is not None:
        found["kafka.sasl_password"] = settings.kafka.sasl_password.get_secret_value()
    for pem in (home / "identity").glob("*.pem"):
        # The key material: the base64 lines between the PEM armour.
        body = "".join(line for line in pem.read_text().splitlines() if not line.startswith("-----"))
        found[f"request identity key {pem.name}"] = body
    assert all(len(value) >= 8 for value in found.values()), "a secret too short to search for"
    return found


def leaks(secrets: Secrets, where: str, data: bytes) -> list[str]:
    return [f"{name} in {where}" for name, value in secrets.items() if value.encode() in data]


def leaks_in_records(secrets: Secrets, records: Iterable[Record]) -> list[str]:
    found = []
    for r in records:
        where = f"{r.topic}[{r.partition}]@{r.offset}"
        found += leaks(secrets, f"{where} key", r.key or b"")
        found += leaks(secrets, f"{where} value", r.value or b"")
        for name, value in r.headers:
            found += leaks(secrets, f"{where} header {name}", value)
    return found


def leaks_in_logs(secrets: Secrets, logs: Iterable[Path]) -> list[str]:
    return [leak for log in logs for leak in leaks(secrets, str(log), log.read_bytes())]


def test_the_scan_finds_a_planted_secret(tmp_path: Path) -> None:
    secrets = {"provider.secret_key": "sk_test_planted_123"}
    log = tmp_path / "service.log"
    log.write_text("INFO calling the provider with sk_test_planted_123\n")
    assert leaks_in_logs(secrets, [log]) == [f"provider.secret_key in {log}"]
    record = Record("t-dlq", 0, 7, b"k", b"{}", [("error.reason", b"auth sk_test_planted_123")], 0)
    assert leaks_in_records(secrets, [record]) == ["provider.secret_key in t-dlq[0]@7 header error.reason"]


def drive_risky_paths(kafka: KafkaDriver, ingress: httpx.Client, unique: str) -> None:
    """Payments and forged webhooks (what touches the provider's keys), and a bad record."""
    targets = registered_targets()
    for name in ("payment-requests", "payment-webhooks"):
        t = topic(name)
        if t.target in targets:
            kafka.send(t, [(f"{unique}-{name}", example(t).encoded()), (f"{unique}-{name}-bad", b"{")], timeout=60)
    if topic("payment-webhooks").target in targets:
        forged = json.dumps({"id": "evt_forged", "type": "payment_intent.succeeded"})
        response = ingress.post("/PaymentService/processWebhook", content=forged,
                                headers={"content-type": "application/json", "stripe-signature": "t=1,v1=00"})
        assert response.status_code == 400, response.text


@pytest.fixture(scope="module")
def session_output(stack: Stack, kafka: KafkaDriver, ingress: httpx.Client) -> list[Record]:
    drive_risky_paths(kafka, ingress, "secrets")
    with TopicReader(stack.settings.kafka.client_config(), companion_topics(), from_start=True) as reader:
        return reader.collect(lambda rs: False, timeout=120, idle=3.0)


def test_no_secret_in_results_or_dead_letters(stack: Stack, session_output: list[Record]) -> None:
    secrets = secrets_of(stack.settings, stack.home)
    assert any(r.topic.endswith("-dlq") for r in session_output), "no dead letters to judge"
    assert any(r.topic.endswith("-results") for r in session_output), "no results to judge"
    assert not leaks_in_records(secrets, session_output)


def test_no_secret_in_any_log(stack: Stack, session_output: list[Record]) -> None:
    secrets = secrets_of(stack.settings, stack.home)
    logs = sorted((stack.home / "run").glob("*.log"))
    assert any(log.name == "service.log" for log in logs), f"no service log among {logs}"
    assert not leaks_in_logs(secrets, logs)


def test_the_scan_read_the_payment_topics(session_output: list[Record]) -> None:
    """Where the provider's keys are used, output was there to judge (a reader that
    silently read nothing would pass the tests above)."""
    served = {t.name for t in TOPICS if t.target in registered_targets()}
    seen = {r.topic.rsplit("-", 1)[0] for r in session_output}
    assert {"payment-requests", "payment-webhooks"} & served <= seen
