"""Per catalogue topic: what processing a valid record ends in, what it needs first, and
how its handler takes HTTP; a key strategy.

The bad-input, redelivery and secrets tests iterate over `schemas.catalogue.TOPICS` and
take their valid records from here: the topic's first sample record (its schema's
``sample``, what `switchyard load` sends), or a value of its own where the topic has none.
A topic added to the catalogue needs one entry (tests/unit/test_catalogue_coverage.py
checks that every topic has one that validates).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

import httpx
from hypothesis import strategies as st

from schemas.catalogue import TOPICS, Topic, topic

Expect = Literal["ok", "failure", "either"]
Prepare = Callable[[httpx.Client, str], None]


@dataclass(frozen=True)
class Example:
    """A value its topic's schema accepts, and what processing it should end in."""

    # Empty in EXPECTATIONS for the topic's first sample record (filled in by EXAMPLES).
    value: dict[str, Any] = field(default_factory=dict)
    # "failure": a terminal (business) failure result, e.g. an unsigned webhook;
    # "either": the outcome depends on state this suite does not set up.
    expect: Expect = "ok"
    # Run once per record key before the record is sent (e.g. register the package).
    prepare: Prepare | None = None
    # Over HTTP some handlers take a body that is not the Kafka value (the provider's raw
    # webhook, a body-less reservation): their 400s name the problem, not a schema field.
    http_names_fields: bool = True
    http_empty_body_ok: bool = False

    def encoded(self) -> bytes:
        return json.dumps(self.value).encode()


def sample_value(t: Topic) -> dict[str, Any]:
    """``t``'s first sample record at its smallest, as JSON (defaults left out)."""
    assert t.sample is not None, f"{t.name} has no sample record: give its example a value"
    value: dict[str, Any] = json.loads(t.sample(0, 0).model_dump_json(exclude_defaults=True))
    return value


def _register_package(ingress: httpx.Client, key: str) -> None:
    response = ingress.post(f"/PackageTracker/{key}/registerPackage", json={"finalDestination": "Bridge 6"})
    assert response.status_code == 200, response.text


EXPECTATIONS: dict[str, Example] = {
    "social-media-posts": Example(),
    "package-location-updates": Example(prepare=_register_package),
    "product-reservations": Example(http_empty_body_ok=True),
    "trip-bookings": Example(),
    "machine-commands": Example(),
    "payment-commands": Example(expect="either"),
    "task-queue": Example(),
    "fanout-tasks": Example(),
    "upload-requests": Example(),
    "payment-requests": Example(expect="either"),
    # No sample (a valid one needs the provider's signing secret). Schema-valid but
    # unsigned: the signature check refuses it as a terminal failure.
    "payment-webhooks": Example({"payload": json.dumps({"id": "evt_1", "type": "payment_intent.succeeded"}),
                                 "signature": "t=1,v1=deadbeef"}, expect="failure", http_names_fields=False),
    "wallet-deposits": Example(expect="either"),
    "bench-events": Example(),
}

EXAMPLES: dict[str, Example] = {
    name: ex if ex.value else replace(ex, value=sample_value(topic(name))) for name, ex in EXPECTATIONS.items()
}


def example(t: Topic) -> Example:
    return EXAMPLES[t.name]


def http_path(t: Topic, key: str) -> str:
    """The ingress path of a topic's sink handler (the key in the path for objects and workflows)."""
    return f"/{t.service}/{t.handler}" if t.kind == "service" else f"/{t.service}/{key}/{t.handler}"


# Letters and digits from many scripts, plus separators: keys are UTF-8 strings, not ASCII.
KEY_ALPHABET = st.characters(categories=("Lu", "Ll", "Lo", "Nd"), codec="utf-8") | st.sampled_from("-_.")


def keys(prefix: str) -> st.SearchStrategy[str]:
    """Record keys under a test's own prefix (see the `unique` fixture)."""
    return st.text(KEY_ALPHABET, min_size=1, max_size=12).map(lambda s: f"{prefix}-{s}")


def registered_targets() -> set[str]:
    """`Service/handler` of every handler the app registers, without a running stack.

    Used at collection time to parametrize over the topics whose handler exists (other
    examples are still being written); tests/unit/test_catalogue_coverage.py fails while
    any catalogue topic has none.
    """
    from handlers.app import services
    from handlers.settings import ExampleStackSettings as Settings
    from switchyard.core.kafka import AsyncProducer
    from switchyard.core.sink import SinkRuntime

    # The runtime is only stored by the builders, never used: no producer is needed.
    runtime = SinkRuntime(cast(AsyncProducer, None))
    return {f"{s.name}/{h}" for s in services(Settings(_env_file=None), runtime) for h in s.handlers}


def served_topics() -> list[Topic]:
    targets = registered_targets()
    return [t for t in TOPICS if t.target in targets]
