"""A dependency down longer than the retry horizon. The record's invocation pauses (it is
not killed: a kill would end the record with no outcome, or report the outage as a
business failure), shows in `switchyard status`, holds only its own key, and once the
dependency is back `switchyard resume` carries it to its one outcome."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import topic
from switchyard.cli.look import cmd_resume
from switchyard.core.admin import RestateAdmin
from switchyard.core.kafka import RecordProducer
from switchyard.core.results import TopicReader
from switchyard.ops.paused import PausedInvocation, paused
from switchyard.stack.stack import Stack
from tests.integration.kafka_driver import KafkaDriver, source_of

PAYMENTS = topic("payment-requests")
PACKAGES = topic("package-location-updates")


@pytest.fixture
def provider_down(stack: Stack) -> Iterator[None]:
    stack.crash("provider")
    try:
        yield
    finally:
        if "provider" not in stack.components:
            stack.restart("provider")


def wait_for_pause(admin: RestateAdmin, target: str, timeout: float = 60) -> list[PausedInvocation]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mine = [p for p in paused(admin) if p.target == target]
        if mine:
            return mine
        time.sleep(0.5)
    raise AssertionError(f"no paused {target} invocation within {timeout}s")


def test_a_payment_outlives_a_provider_outage_longer_than_every_retry(
    stack: Stack, settings: Settings, kafka: KafkaDriver, admin: RestateAdmin, ingress: httpx.Client,
    unique: str, provider_down: None, capsys: pytest.CaptureFixture[str],
) -> None:
    client = settings.kafka.client_config()
    key = f"{unique}-pay"
    with TopicReader(client, [PAYMENTS.results, PAYMENTS.dlq]) as reader:
        producer = RecordProducer(client)
        producer.send(PAYMENTS.name, key, json.dumps({"paymentMethodId": "pm_card_visa", "amount": 700}))
        producer.flush()
        [sent] = producer.delivered

        [stuck] = wait_for_pause(admin, PAYMENTS.target)
        assert stuck.topic == PAYMENTS
        # Paused, not ended: no result and no dead letter yet.
        assert [r for r in reader.collect(lambda rs: False, 1.0) if source_of(r) == sent] == []
        # Other keys and topics flow meanwhile.
        pkg = f"{unique}-pkg"
        registered = ingress.post(f"/PackageTracker/{pkg}/registerPackage", json={"finalDestination": "Bonn"})
        assert registered.status_code == 200
        [other] = kafka.send(PACKAGES, [(pkg, json.dumps({"timestamp": "1", "location": "Köln"}))])
        assert other.ok

        stack.restart("provider")
        assert cmd_resume(settings, argparse.Namespace(ids=[], topic=PAYMENTS.name)) == 0
        assert f"resuming {stuck.id}" in capsys.readouterr().out
        got = reader.collect(lambda rs: any(source_of(r) == sent for r in rs), 60)
        got += reader.collect(lambda rs: False, 1.0)
    [outcome] = [r for r in got if source_of(r) == sent]  # exactly one
    assert outcome.topic == PAYMENTS.results
    assert outcome.json()["ok"] is True, outcome.json()
    assert outcome.json()["result"]["status"] == "succeeded"
    assert [p for p in paused(admin) if p.id == stuck.id] == []
