"""The examples as one ``switchyard.App``: every example's topics and services.

The framework reaches it only through its import string, ``handlers.app:app`` (the
default app of every command; ``SWITCHYARD_APP`` or ``--app`` names another), and serves
it as any app (switchyard/serving.py: granian over HTTP/2, the key gate, ``GET /metrics``).
The examples are written on the lower layer (``Topic`` in schemas/catalogue.py and
``sink_handler`` in each module), included here with ``app.include``.
"""

from __future__ import annotations

import restate

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
from schemas.catalogue import STREAM_TOPICS, TOPICS
from switchyard.app import App
from switchyard.core.sink import SinkRuntime

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


# "switchyard": its key gate's consumer group is switchyard-gate, as before there were apps.
app = App("switchyard", settings=HandlerSettings, streams="streams.worker", version_packages=("schemas",))
app.include(TOPICS, services, stream_topics=STREAM_TOPICS)
