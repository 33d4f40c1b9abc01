"""Demo scenes, one module per example: each sends the seed's demo traffic and shows results."""

from collections.abc import Callable

from producers.demos import (
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
    uploads,
)
from producers.demos.base import DemoEnv

SCENES: dict[str, Callable[[DemoEnv], None]] = {
    "UserFeed": posts.run,
    "PackageTracker": packages.run,
    "ProductService": reservations.run,
    "BookingWorkflow": bookings.run,
    "MachineOperator": machines.run,
    "PaymentProcessor": payments.run,
    "BettingDeposits": deposits.run,
    "PaymentSignals": signals.run,
    "AsyncTaskWorker": tasks.run,
    "FanOutWorker": fanout.run,
    "DataUploadService": uploads.run,
}
