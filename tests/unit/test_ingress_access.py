"""Which handlers answer on Restate's ingress: exactly the contract's public surface.

CONTRACT.md: the HTTP paths of its table and the queries (`get*` shared handlers) are
public, and so are the Kafka sinks its table names (a subscription delivers to them, the
seeds subscribe them by name); every other handler is one service's helper for another
and refuses an ingress caller. A new helper registered without ``**private(...)``
(handlers/access.py) fails here; tests/integration/test_ingress_access.py checks what
Restate does with the flags.
"""

from __future__ import annotations

import json

import pytest
from restate.discovery import compute_discovery_json
from restate.endpoint import Endpoint

from schemas.catalogue import TOPICS
from switchyard.ops.handlers_table import HandlerAccess, ServiceDef, app_services, handler_access

# CONTRACT.md's table, column "HTTP (ingress :8080)".
CONTRACT_HTTP = {
    "UserFeed/getFeed",
    "PackageTracker/registerPackage", "PackageTracker/getPackageInfo",
    "ProductService/reserve",
    "BookingWorkflow/run",
    "MachineOperator/setUp", "MachineOperator/tearDown", "MachineOperator/getStatus",
    "PaymentProcessor/makePayment", "PaymentProcessor/cancelPayment", "PaymentProcessor/getStatus",
    "AsyncTaskWorker/runTask",
    "FanOutWorker/run",
    "DataUploadService/run", "DataUploadService/resultAsEmail",
    "PaymentService/processPayment", "PaymentService/processWebhook", "PaymentService/deposit",
}
# Its column "handled by": every input topic's sink (the benchmark's topic included).
KAFKA_SINKS = {t.target for t in TOPICS}
# The benchmark's 3-step workflow, driven over HTTP by bench/run.py.
BENCHMARK = {"BenchWorkflow/run"}


@pytest.fixture(scope="module")
def services() -> list[ServiceDef]:
    return app_services()


@pytest.fixture(scope="module")
def access(services: list[ServiceDef]) -> list[HandlerAccess]:
    return handler_access(services)


def queries(services: list[ServiceDef]) -> set[str]:
    return {f"{s.name}/{name}" for s in services for name, h in s.handlers.items()
            if name.startswith("get") and h.kind == "shared"}


def test_the_public_handlers_are_exactly_the_contracts_surface(services: list[ServiceDef],
                                                                access: list[HandlerAccess]) -> None:
    public = {a.target for a in access if not a.private}
    expected = CONTRACT_HTTP | KAFKA_SINKS | BENCHMARK | queries(services)
    assert public - expected == set(), "helpers open to anyone on the ingress: register them with **private(...)"
    assert expected - public == set(), "the contract's public surface refused on the ingress"


def test_every_handler_named_get_is_a_shared_query(services: list[ServiceDef]) -> None:
    # A shared handler cannot write state: what makes a `get*` handler safe to open.
    writers = [f"{s.name}/{name}" for s in services for name, h in s.handlers.items()
               if name.startswith("get") and h.kind != "shared"]
    assert writers == []


def test_there_are_private_helpers_and_each_registration_says_why(access: list[HandlerAccess]) -> None:
    assert {"WalletService/deposit", "RGService/resetLimit", "Account/deposit", "PaymentProcessor/expire",
            "FanOutWorker/runSubtask", "TaskLedger/record", "UploadMailer/send", "PaymentGateway/charge",
            } <= {a.target for a in access if a.private}
    assert [a.target for a in access if not a.why] == []


def test_the_flags_reach_restates_discovery(services: list[ServiceDef], access: list[HandlerAccess]) -> None:
    """What restate-server reads at registration: `ingressPrivate` on each private handler."""
    endpoint = Endpoint()  # type: ignore[no-untyped-call]
    for s in services:
        endpoint.bind(s)
    manifest = json.loads(compute_discovery_json(endpoint, 4, "bidi"))
    private = {f"{s['name']}/{h['name']}" for s in manifest["services"] for h in s["handlers"]
               if h.get("ingressPrivate")}
    assert private == {a.target for a in access if a.private}
