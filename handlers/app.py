"""The one `restate.app(...)` call: every example's services in one ASGI app.

granian (or hypercorn, `service.server`) serves it through the `create_app` factory;
settings come from the environment. `GET /metrics` on the same port is the service's
Prometheus metrics (switchyard/core/metrics.py, docs/metrics.md).
"""

from __future__ import annotations

import atexit
from pathlib import Path
from typing import Any

import restate

import handlers
from handlers import (
    bench,
    bookings,
    deposits,
    fanout,
    machines,
    packages,
    payments,
    posts,
    reservations,
    signals,
    tasks,
    travel_stubs,
    uploads,
)
from handlers.provider_client import ProviderClient
from handlers.settings import HandlerSettings
from schemas.catalogue import CATALOGUE
from switchyard.core import logs
from switchyard.core.asgi import with_lifespan, with_metrics
from switchyard.core.gate import start_gate
from switchyard.core.identity import check_exposure, service_identity_keys
from switchyard.core.kafka import AsyncProducer
from switchyard.core.preflight import check_service
from switchyard.core.settings import load_or_exit
from switchyard.core.sink import SinkRuntime
from switchyard.core.versions import code_version, with_version

ServiceDef = restate.Service | restate.VirtualObject | restate.Workflow


def services(settings: HandlerSettings, runtime: SinkRuntime) -> list[ServiceDef]:
    # One PaymentService holds the betting deposit (handlers/deposits.py) and the provider
    # payments (handlers/signals.py); each module registers its handlers on it.
    payment_service = restate.Service("PaymentService")
    signals.register(payment_service, ProviderClient(settings.provider), runtime, settings.provider.webhook_timeout)
    travel = travel_stubs.build(settings.booking)  # the saga's simulated flight, car, payment APIs
    return [
        posts.build(settings.feed, runtime),
        packages.build(runtime, settings.packages),
        reservations.build(runtime),
        *bookings.build(travel, runtime),
        *travel.services,
        machines.build(settings.machines, runtime),
        *payments.build(settings.payments, runtime),
        payment_service,
        *deposits.register(payment_service, settings.deposits, runtime),
        *tasks.build(settings.tasks, runtime),
        fanout.build(settings.fanout, runtime),
        *uploads.build(settings.uploads, settings.email, runtime),
        bench.build_counter(runtime),
        bench.build_workflow(),
    ]


def create_app(settings: HandlerSettings | None = None) -> Any:
    if settings is None:
        # The server's worker would print a long traceback; one line says it all (exit 2).
        settings = load_or_exit(HandlerSettings)
    logs.configure(settings.service.log_level)
    identity_keys = service_identity_keys(settings.service)
    check_exposure(settings.service, identity_keys)
    check_service(CATALOGUE, settings.kafka)  # a refused login or a missing ACL: one line, exit 2
    producer = AsyncProducer(settings.kafka.client_config(), settings.kafka.results_linger.total_seconds() * 1000)
    atexit.register(producer.close)
    # The key gate feeds Restate the object and workflow topics (switchyard/core/gate.py).
    gate = start_gate(CATALOGUE, settings.kafka, settings.gate, settings.service.bind, settings.service.workers)
    if gate is not None:
        atexit.register(gate.stop)
    app = restate.app(
        services(settings, SinkRuntime(producer, settings.retries)),
        identity_keys=identity_keys or None,
    )

    def shutdown() -> None:
        if gate is not None:
            gate.stop()
        producer.close()

    return with_lifespan(with_version(with_metrics(app), app_version(settings)), shutdown)


def app_version(settings: HandlerSettings) -> str:
    """The configured version, or a digest of the code this app runs: its handlers, its
    schemas and the framework (switchyard/core/versions.py)."""
    import schemas
    import switchyard

    roots = [Path(module.__file__ or "").parent for module in (handlers, schemas, switchyard)]
    return settings.service.version or code_version(roots)
