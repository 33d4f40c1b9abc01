"""Demo scenes, one module per example: each sends the seed's demo traffic and shows results.

``SCENES`` maps each example's service to its scene (what the demo runs); ``base`` has
what a scene gets (``DemoEnv``) and the helpers that show results and dead letters.
Import rule: part of the producers layer (docs/architecture.md); imports what it may.
"""

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
