"""switchyard.App: the declarations it takes, the ones it refuses where they are written,
and what it builds from them (catalogue entries, Restate services, sink wrappers)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import restate
from pydantic import BaseModel

import switchyard
from switchyard.app import App, AppError, service_name
from switchyard.core.kafka import AsyncProducer
from switchyard.core.metrics import SinkMetrics
from switchyard.core.sink import SinkRuntime
from switchyard.serving import app_settings


class Order(BaseModel):
    sku: str


class Booking(BaseModel):
    trip: str


def runtime() -> SinkRuntime:
    return SinkRuntime(AsyncProducer.__new__(AsyncProducer), metrics=SinkMetrics(registry=None))


def shop() -> App:
    app = App("order-flow")

    @app.object("orders", key="customer")
    async def place(ctx: restate.ObjectContext, order: Order) -> dict[str, str]:
        """Places a customer's order."""
        return {"sku": order.sku}

    @app.handler()
    async def basket(ctx: restate.ObjectSharedContext) -> list[str]:
        return []

    @app.workflow("bookings", key="trip", service="TripWorkflow")
    async def run(ctx: restate.WorkflowContext, booking: Booking) -> str:
        return booking.trip

    @app.service("payments", key="payment", service="Payments")
    async def pay(ctx: restate.Context, order: Order) -> str:
        return order.sku

    @app.handler("Payments", private=True)
    async def refund(ctx: restate.Context, order: Order) -> str:
        return order.sku

    return app


def test_the_catalogue_names_kind_key_model_service_and_handler() -> None:
    app = shop()
    orders, bookings, payments = app.catalogue().topics
    assert (orders.name, orders.key, orders.value, orders.service, orders.handler, orders.kind) == (
        "orders", "customer", Order, "OrderFlow", "place", "object")
    assert orders.summary == "Places a customer's order."
    assert (bookings.kind, bookings.service, bookings.handler, bookings.subscribed_service) == (
        "workflow", "TripWorkflow", "run", "TripWorkflowIngest")
    assert (payments.kind, payments.service, payments.gated) == ("service", "Payments", False)
    assert app.targets() == ["OrderFlow/place", "TripWorkflow/run", "Payments/pay", "OrderFlow/basket",
                             "Payments/refund"]


def test_build_makes_each_service_of_its_kind_with_its_handlers() -> None:
    services = {s.service_tag.name: s for s in shop().build(runtime())}
    assert {name: s.service_tag.kind for name, s in services.items()} == {
        "OrderFlow": "object", "TripWorkflow": "workflow", "Payments": "service", "TripWorkflowIngest": "object"}
    handlers = {(name, h.name): h for name, s in services.items() for h in s.handlers.values()}
    assert handlers[("OrderFlow", "place")].kind == "exclusive"
    assert handlers[("OrderFlow", "basket")].kind == "shared"
    assert handlers[("TripWorkflow", "run")].kind == "workflow"
    assert handlers[("Payments", "refund")].ingress_private
    assert handlers[("TripWorkflowIngest", "ingest")].ingress_private
    # the sink takes the record's raw bytes (a bad one reaches the wrapper, not the SDK's deserializer)
    assert type(handlers[("OrderFlow", "place")].handler_io.input_serde).__name__ == "BytesSerde"
    assert len(shop().build(runtime())) == 4  # fresh services each time


def test_service_names_and_gate_defaults_follow_the_app() -> None:
    assert [service_name(n) for n in ("greeter", "order-flow", "a_b.c")] == ["Greeter", "OrderFlow", "ABC"]
    app = App("greeter", service="Hello")
    assert (app.service_name, app.gate_group) == ("Hello", "greeter-gate")
    settings = app_settings(app, _env_file=None, service={"bind": "127.0.0.1:9081"})
    assert settings.gate.group_id == "greeter-gate"
    assert settings.gate.transactional_id is not None
    assert settings.gate.transactional_id.startswith("greeter-gate-")
    assert str(settings.restate.deployment_url) == "http://127.0.0.1:9081"
    explicit = app_settings(app, _env_file=None, gate={"group_id": "mine"})
    assert explicit.gate.group_id == "mine"


def test_a_context_of_another_kind_is_refused_where_it_is_written() -> None:
    app = App("greeter")
    with pytest.raises(AppError, match=r"plain service's handler takes restate.Context, not restate.ObjectContext"):
        @app.service("pings", key="id")
        async def ping(ctx: restate.ObjectContext, order: Order) -> None: ...
    with pytest.raises(AppError, match=r"virtual object's handler takes restate\.ObjectContext"):
        @app.object("orders", key="customer")
        async def place(ctx: restate.WorkflowContext, order: Order) -> None: ...
    assert app.catalogue().topics == ()


def test_one_service_is_of_one_kind() -> None:
    app = App("greeter")

    @app.object("orders", key="customer")
    async def place(ctx: restate.ObjectContext, order: Order) -> None: ...

    with pytest.raises(AppError, match=r"Greeter is a virtual object \(Greeter/place\); a workflow needs a service "
                                       r"of its own, e.g. service='GreeterWorkflow'"):
        @app.workflow("bookings", key="trip")
        async def run(ctx: restate.WorkflowContext, booking: Booking) -> None: ...
    with pytest.raises(AppError, match="Greeter is a virtual object"):
        @app.handler()
        async def helper(ctx: restate.Context) -> None: ...
    with pytest.raises(AppError, match="Greeter/place is declared twice"):
        @app.object("orders2", key="customer")
        async def place(ctx: restate.ObjectContext, order: Order) -> None: ...
    with pytest.raises(AppError, match="topic 'orders' already feeds Greeter/place"):
        @app.object("orders", key="customer")
        async def other(ctx: restate.ObjectContext, order: Order) -> None: ...


def test_the_value_needs_a_model_and_the_handler_two_parameters() -> None:
    app = App("greeter")
    with pytest.raises(AppError, match=r"annotate the value parameter 'order' with a pydantic model.*got dict"):
        @app.object("orders", key="customer")
        async def place(ctx: restate.ObjectContext, order: dict) -> None: ...  # type: ignore[type-arg]
    with pytest.raises(AppError, match="got nothing"):
        @app.object("orders", key="customer")
        async def place2(ctx, order): ...  # type: ignore[no-untyped-def]
    with pytest.raises(AppError, match=r"takes \(ctx, value\), not \(ctx\)"):
        @app.object("orders", key="customer")
        async def place3(ctx: restate.ObjectContext) -> None: ...
    with pytest.raises(AppError, match="is an `async def`"):
        @app.object("orders", key="customer")  # type: ignore[type-var]
        def place4(ctx: restate.ObjectContext, order: Order) -> None: ...
    with pytest.raises(AppError, match="no input topic name"):
        @app.object("orders-routed", key="customer")
        async def place5(ctx: restate.ObjectContext, order: Order) -> None: ...
    with pytest.raises(AppError, match="a name is a letter"):
        App("no spaces")


def test_import_switchyard_stays_light_and_app_loads_when_asked() -> None:
    code = ("import sys, switchyard; assert 'restate' not in sys.modules and 'pydantic' not in sys.modules; "
            "assert switchyard.App.__module__ == 'switchyard.app'")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert switchyard.App is App
