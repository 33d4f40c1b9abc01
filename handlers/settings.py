"""The examples' settings: one section per example on top of the core's.

``HandlerSettings`` is what the service (handlers/app.py) loads; the producers read their
example's section from it. ``ExampleStackSettings`` is what the CLI and the tools load for
the examples: the framework's ``Settings`` joined with these sections.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from pydantic import Field

from switchyard.core.components import SIMULATOR_SECRET_KEY as SIMULATOR_SECRET_KEY
from switchyard.core.components import SIMULATOR_WEBHOOK_SECRET as SIMULATOR_WEBHOOK_SECRET
from switchyard.core.components import EmailSettings as EmailSettings
from switchyard.core.components import ProviderSettings as ProviderSettings
from switchyard.core.settings import CoreSettings, Duration, Section
from switchyard.settings import Settings


class FeedSettings(Section):
    """UserFeed: content moderation is polled with durable sleeps."""

    moderation_poll_interval: Duration = timedelta(seconds=5)
    moderation_pending_probability: float = Field(default=0.5, ge=0.0, lt=1.0)
    # Upgrade drills (`switchyard faults` upgrade, tests/integration/test_upgrade.py): a new
    # `ctx.run` step at the top of processPost, the routine change that breaks every post
    # in flight unless versions drain. A setting that changes the steps is a code change:
    # give such a build its own SWITCHYARD_SERVICE__VERSION.
    audit_step: bool = False


class PackageSettings(Section):
    """PackageTracker: a package keeps its latest locations, the oldest dropped past this."""

    max_locations: int = Field(default=1000, ge=1)


class BookingSettings(Section):
    """BookingWorkflow (saga): the simulated flight, car and payment APIs.

    Failure injection for the demo and the tests, one list per saga step: each entry makes
    that step fail terminally, so the compensations owed so far run.
    """

    # Flights that cannot be reserved: nothing is owed yet.
    unavailable_flights: list[str] = Field(default_factory=lambda: ["SOLD-OUT"])
    # Pickup locations without cars: the flight reservation is owed a cancel.
    unavailable_car_locations: list[str] = Field(default_factory=lambda: ["Atlantis"])
    # Cards the gateway declines (the seed's demo card): nothing charged, car and flight cancelled.
    declined_cards: list[str] = Field(default_factory=lambda: ["4111111111111111"])
    # Cards charged before the gateway errors: the case the refund registered before the
    # charge is for; the refund finds the charge by its idempotency key and returns it.
    charge_error_cards: list[str] = Field(default_factory=lambda: ["4000000000000119"])


class MachineSettings(Section):
    """MachineOperator (stateful actor)."""

    transition_duration: Duration = timedelta(seconds=5)
    crash_probability: float = Field(default=0.3, ge=0.0, lt=1.0)
    # Seeds the simulated crashes: which attempt of which transition crashes is a function
    # of (seed, machine, transition number, attempt), so tests can foresee it.
    crash_seed: int = 0
    # Attempts of a crashing transition before it fails for good (status unchanged).
    max_attempts: int = Field(default=10, ge=1)


class PaymentStateSettings(Section):
    """PaymentProcessor (payment state machine)."""

    expiry: Duration = timedelta(days=1)
    # What an Account holds before its first withdrawal (the seed draws 100000-200000).
    opening_balance_cents: int = Field(default=100_000, ge=0)


class TaskSettings(Section):
    """AsyncTaskWorker (delayed task queue)."""

    task_duration: Duration = timedelta(milliseconds=200)


class FanOutSettings(Section):
    """FanOutWorker (fan-out/fan-in)."""

    subtask_min_duration: Duration = timedelta(milliseconds=200)
    subtask_max_duration: Duration = timedelta(seconds=2)


class UploadSettings(Section):
    """DataUploadService (sync-to-async upload). As in the seed, each upload is fast or
    slow on a coin toss; the toss is a hash of (speed_seed, uploadId), not `ctx.random()`,
    so tests and demos can foresee which uploads are slow."""

    upload_duration: Duration = timedelta(seconds=10)  # a slow upload (the seed's 10000 ms)
    fast_upload_duration: Duration = timedelta(milliseconds=1500)  # a fast one (the seed's 1500 ms)
    fast_upload_probability: float = Field(default=0.5, ge=0.0, le=1.0)
    speed_seed: int = 0
    # How long a caller waits for the URL before asking for it by email.
    sync_timeout: Duration = timedelta(seconds=5)

    def is_fast(self, upload_id: str) -> bool:
        """The seed's coin toss, as a hash of (speed_seed, uploadId): foreseeable by tests
        and by the demo, which picks a fast and a slow upload."""
        digest = hashlib.sha256(f"{self.speed_seed}/{upload_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.fast_upload_probability


class DepositSettings(Section):
    """PaymentService/deposit (betting)."""

    limit: int = 10_000
    limit_restore_after: Duration = timedelta(days=7)
    # Payment methods the simulated charge declines (the limit is given back at once).
    declined_payment_methods: list[str] = Field(default_factory=lambda: ["declined-card"])


class HandlerSettings(CoreSettings):
    feed: FeedSettings = Field(default_factory=FeedSettings)
    packages: PackageSettings = Field(default_factory=PackageSettings)
    booking: BookingSettings = Field(default_factory=BookingSettings)
    machines: MachineSettings = Field(default_factory=MachineSettings)
    payments: PaymentStateSettings = Field(default_factory=PaymentStateSettings)
    tasks: TaskSettings = Field(default_factory=TaskSettings)
    fanout: FanOutSettings = Field(default_factory=FanOutSettings)
    uploads: UploadSettings = Field(default_factory=UploadSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    provider: ProviderSettings = Field(default_factory=ProviderSettings)
    deposits: DepositSettings = Field(default_factory=DepositSettings)


class ExampleStackSettings(Settings, HandlerSettings):
    """The framework's settings and the examples' sections: what ``settings_for`` gives
    for the examples' app (switchyard/settings.py), typed for the examples' own tools."""


def example_settings(settings: Settings) -> ExampleStackSettings:
    """``settings`` as the examples' (what the stack and the CLI load when the app is the
    examples'); a TypeError names the app otherwise."""
    if not isinstance(settings, ExampleStackSettings):
        raise TypeError(f"{type(settings).__name__} are not the examples' settings: is SWITCHYARD_APP another app?")
    return settings
