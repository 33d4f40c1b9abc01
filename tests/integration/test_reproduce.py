"""Re-producing a record on a plain-service topic runs the business step once: the record
key is the request's idempotency key (CONTRACT.md, Kafka conventions).

Covers every `kind == "service"` topic whose handler is registered (tests/examples.py):
the same key and value twice in a row and once more after both finished. Every copy gets
the first outcome, and Restate holds exactly one business invocation for the key. For
payment-requests the effect is checked at the payment provider too: one payment intent.
"""

from __future__ import annotations

import json

import httpx
import pytest

from handlers.settings import ExampleStackSettings as Settings
from schemas.catalogue import Topic, topic
from switchyard.core.admin import RestateAdmin
from tests.examples import example, served_topics
from tests.integration.kafka_driver import KafkaDriver, Outcome

SERVICE_TOPICS = [t for t in served_topics() if t.kind == "service"]


def outcome_of(o: Outcome) -> tuple[bool, object, dict[str, object]]:
    assert not o.dead_lettered, o.record.header("error.reason")
    return o.ok, o.result, o.error


def business_invocations(admin: RestateAdmin, t: Topic, key: str) -> list[dict[str, object]]:
    """The invocations the sink forwarded under the record key (see switchyard/core/sink.py)."""
    idempotency_key = f"{t.name}/{key}".replace("'", "''")
    return admin.query(
        f"SELECT id, status FROM sys_invocation WHERE target = '{t.target}' AND idempotency_key = '{idempotency_key}'")


def test_there_is_a_plain_service_topic_to_check() -> None:
    assert SERVICE_TOPICS, "no plain-service sink handler is registered"


@pytest.mark.parametrize("t", SERVICE_TOPICS, ids=lambda t: t.name)
def test_a_reproduced_record_runs_the_business_step_once(
    t: Topic, kafka: KafkaDriver, admin: RestateAdmin, unique: str
) -> None:
    key, value = f"{unique}-once", example(t).encoded()
    first, second = kafka.send(t, [(key, value), (key, value)])
    [later] = kafka.send(t, [(key, value)])
    assert outcome_of(second) == outcome_of(first)
    assert outcome_of(later) == outcome_of(first)
    assert len({first.sent, second.sent, later.sent}) == 3  # three records, each with its own result
    assert len(business_invocations(admin, t, key)) == 1


def test_a_reproduced_payment_charges_once(
    kafka: KafkaDriver, admin: RestateAdmin, settings: Settings, unique: str
) -> None:
    t = topic("payment-requests")
    key = f"{unique}-pay"
    value = json.dumps({"paymentMethodId": "pm_card_visa", "amount": 4200}).encode()
    outcomes = kafka.send(t, [(key, value), (key, value)])
    outcomes += kafka.send(t, [(key, value)])
    assert all(o.ok and isinstance(o.result, dict) for o in outcomes), [o.record.value for o in outcomes]
    intents = {str(o.result["paymentIntentId"]) for o in outcomes if isinstance(o.result, dict)}
    assert len(intents) == 1
    [invocation] = business_invocations(admin, t, key)
    # The provider's idempotency key is the business invocation's id: one intent was created under it.
    events = httpx.get(f"{settings.provider.api_base}/_sim/events", timeout=10).json()["data"]
    created = {e["intentId"] for e in events
               if json.loads(e["payload"])["request"]["idempotency_key"] == invocation["id"]}
    assert created == intents


WORKFLOW_TOPICS = [t for t in served_topics() if t.kind == "workflow"]


def test_there_is_a_workflow_topic_to_check() -> None:
    assert {t.name for t in WORKFLOW_TOPICS} == {"trip-bookings", "upload-requests"}


@pytest.mark.parametrize("t", WORKFLOW_TOPICS, ids=lambda t: t.name)
def test_a_reproduced_workflow_id_gets_an_already_ran_outcome(
    t: Topic, kafka: KafkaDriver, admin: RestateAdmin, unique: str
) -> None:
    """A workflow runs once per key, and Restate refuses a second `run` before any of our
    code runs; the subscription's front handler turns that refusal into the record's outcome."""
    key, value = f"{unique}-wf", example(t).encoded()
    first, second = kafka.send(t, [(key, value), (key, value)], timeout=90)
    [later] = kafka.send(t, [(key, value)], timeout=90)
    assert first.ok, first.record.value
    for copy in (second, later):
        assert not copy.dead_lettered
        assert not copy.ok
        assert copy.error["code"] == 409
        assert "already ran" in str(copy.error["message"])
    runs = admin.query(f"SELECT id FROM sys_invocation WHERE target_service_name = '{t.service}' "
                       f"AND target_handler_name = '{t.handler}' AND target_service_key = '{key}'")
    assert len(runs) == 1
