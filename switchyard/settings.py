"""All configuration, from the environment (prefix ``SWITCHYARD_``, nested with ``__``).

Every port, address, duration, probability and seed lives here with the contract's
default, so tests and demos shorten durations without touching code. Entry points build
one ``Settings`` and pass it down.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_NUMBER = re.compile(r"\s*[0-9]+(\.[0-9]*)?\s*")


def _seconds_if_number(value: Any) -> Any:
    """`SWITCHYARD_UPLOADS__SYNC_TIMEOUT=5` means 5 s: pydantic reads a number as seconds
    but a numeric *string* (all an environment variable can be) only as ISO 8601."""
    return float(value) if isinstance(value, str) and _NUMBER.fullmatch(value) else value


# A duration: seconds (`5`, `0.5`) or ISO 8601 (`PT5S`, `P1D`).
Duration = Annotated[timedelta, BeforeValidator(_seconds_if_number)]


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    cluster_name: str = "my-cluster"
    topic_partitions: int = Field(default=1, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    # Security and other librdkafka properties, passed to every client and to Restate's
    # cluster registration, e.g. SWITCHYARD_KAFKA__PROPERTIES='{"security.protocol": "SASL_SSL"}'.
    properties: dict[str, str] = Field(default_factory=dict)
    # Consumer options of each Restate subscription. A short session timeout lets a
    # restarted restate-server rejoin its consumer groups in seconds rather than waiting
    # out the dead member's 45 s default.
    # read_committed: the key gate writes the routed topics in transactions.
    subscription_options: dict[str, str] = Field(default_factory=lambda: {
        "auto.offset.reset": "earliest", "session.timeout.ms": "6000", "heartbeat.interval.ms": "1500",
        "isolation.level": "read_committed",
    })
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # How long the service's result/DLQ producer waits to batch. Each handler awaits its
    # record's acknowledgement, so on one key this wait is paid per record: 0.5 ms instead
    # of librdkafka's 5 ms took a single key from ≈ 68 to ≈ 102 records/s in the benchmark;
    # across many keys batches form anyway (docs/benchmarks.md).
    results_linger: Duration = timedelta(microseconds=500)

    def client_config(self) -> dict[str, str]:
        """librdkafka properties shared by every producer, consumer and admin client."""
        config = {"bootstrap.servers": self.bootstrap_servers, **self.properties}
        if self.sasl_username is not None:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password is not None:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        return config


class RestateSettings(BaseModel):
    admin_url: str = "http://127.0.0.1:9070"
    ingress_url: str = "http://127.0.0.1:8080"
    # Where restate-server reaches the Python service (what gets registered).
    deployment_url: str = "http://127.0.0.1:9080"


class RetrySettings(BaseModel):
    """How long a Kafka record's transient failures (a bug, an outage) are retried before
    the record goes to its topic's DLQ with the last error: retries end, keys never stall.
    Keep max_attempts below restate.toml's default-retry-policy max-attempts."""

    max_attempts: int = Field(default=8, ge=1)
    initial_interval: Duration = timedelta(milliseconds=200)
    max_interval: Duration = timedelta(seconds=5)
    # Fault drills: records with these keys fail with a simulated outage on every attempt.
    poison_keys: list[str] = Field(default_factory=list)


class GateSettings(BaseModel):
    """The key gate (switchyard/gate.py) in front of object and workflow topics."""

    # Off, nothing copies the gated topics to their routed twins and Restate sees none of
    # their records: only for a deployment that runs the gate elsewhere.
    enabled: bool = True
    group_id: str = "switchyard-gate"
    # Defaults to one per host and service port (stable across restarts).
    transactional_id: str | None = None
    max_batch: int = Field(default=500, ge=1)
    # Up to this many consecutive records of one key (read in one batch) travel as one
    # routed record to an object topic's handler: one invocation, one state load and one
    # result publish for all of them, each record still with its own outcome, in order.
    # 1 = one invocation per record. Workflow topics always go one record at a time.
    # A batch ends where the gate's read ends, so light traffic still goes one by one; a
    # key's backlog goes up to this many at a time (one key alone: ~150 -> ~4,600 rec/s).
    batch_records: int = Field(default=100, ge=1, le=1000)
    # An open transaction of a crashed or frozen gate blocks its partitions for Restate
    # (read_committed) until the broker aborts it after this long.
    transaction_timeout: Duration = timedelta(seconds=10)


class ServiceSettings(BaseModel):
    bind: str = "127.0.0.1:9080"
    workers: int = Field(default=1, ge=1)
    # The HTTP/2 server in front of the handlers. granian (Rust hyper) spends about a third
    # less CPU per record than hypercorn's pure-Python h2 (docs/benchmarks.md); hypercorn
    # stays selectable: SWITCHYARD_SERVICE__SERVER=hypercorn.
    server: Literal["granian", "hypercorn"] = "granian"
    # Restate request-identity public keys (publickeyv1_...): the service refuses any
    # request not signed with one of them.
    identity_keys: list[str] = Field(default_factory=list)
    # Or a directory holding restate-server's signing key (request-identity.pem, made there
    # if missing): its public key is added to identity_keys (docker-compose uses this).
    identity_dir: Path | None = None
    # With no identity key, a service bound off loopback refuses to start: anyone who can
    # reach it could run any handler. This opt-out is for a network you trust alone.
    insecure_accept_unsigned: bool = False
    log_level: str = "INFO"


class LocalStackSettings(BaseModel):
    """Only for the native launcher: where the dev stack keeps its jars, data and logs."""

    home: Path = Path(".stack")
    kafka_controller_port: int = 9093
    restate_node_port: int = 5122
    restate_partitions: int = Field(default=4, ge=1)
    start_timeout: Duration = timedelta(seconds=90)
    # restate-server signs its requests with a key made on first start (home/identity/);
    # the service then refuses any call not signed with it.
    request_identity: bool = True
    # Extra RESTATE_* settings on top of restate.toml, e.g. a shorter retry horizon for
    # tests: {"RESTATE_DEFAULT_RETRY_POLICY__MAX_INTERVAL": "500ms"}.
    restate_env: dict[str, str] = Field(default_factory=dict)


class FeedSettings(BaseModel):
    """UserFeed: content moderation is polled with durable sleeps."""

    moderation_poll_interval: Duration = timedelta(seconds=5)
    moderation_pending_probability: float = Field(default=0.5, ge=0.0, lt=1.0)


class PackageSettings(BaseModel):
    """PackageTracker: a package keeps its latest locations, the oldest dropped past this."""

    max_locations: int = Field(default=1000, ge=1)


class ReservationSettings(BaseModel):
    """ProductService (durable RPC)."""


class BookingSettings(BaseModel):
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


class MachineSettings(BaseModel):
    """MachineOperator (stateful actor)."""

    transition_duration: Duration = timedelta(seconds=5)
    crash_probability: float = Field(default=0.3, ge=0.0, lt=1.0)
    # Seeds the simulated crashes: which attempt of which transition crashes is a function
    # of (seed, machine, transition number, attempt), so tests can foresee it.
    crash_seed: int = 0
    # Attempts of a crashing transition before it fails for good (status unchanged).
    max_attempts: int = Field(default=10, ge=1)


class PaymentStateSettings(BaseModel):
    """PaymentProcessor (payment state machine)."""

    expiry: Duration = timedelta(days=1)
    # What an Account holds before its first withdrawal (the seed draws 100000-200000).
    opening_balance_cents: int = Field(default=100_000, ge=0)


class TaskSettings(BaseModel):
    """AsyncTaskWorker (delayed task queue)."""

    task_duration: Duration = timedelta(milliseconds=200)


class FanOutSettings(BaseModel):
    """FanOutWorker (fan-out/fan-in)."""

    subtask_min_duration: Duration = timedelta(milliseconds=200)
    subtask_max_duration: Duration = timedelta(seconds=2)


class UploadSettings(BaseModel):
    """DataUploadService (sync-to-async upload). As in the seed, each upload is fast or
    slow on a coin toss; the toss is a hash of (speed_seed, uploadId), not `ctx.random()`,
    so tests and demos can foresee which uploads are slow."""

    upload_duration: Duration = timedelta(seconds=10)  # a slow upload (the seed's 10000 ms)
    fast_upload_duration: Duration = timedelta(milliseconds=1500)  # a fast one (the seed's 1500 ms)
    fast_upload_probability: float = Field(default=0.5, ge=0.0, le=1.0)
    speed_seed: int = 0
    # How long a caller waits for the URL before asking for it by email.
    sync_timeout: Duration = timedelta(seconds=5)


class EmailSettings(BaseModel):
    """SMTP for outgoing mail; the dev stack and tests run a local sink here."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    sender: str = "switchyard@localhost"


SIMULATOR_SECRET_KEY = "sk_test_switchyard_simulator"
SIMULATOR_WEBHOOK_SECRET = "whsec_switchyard_simulator"


class ProviderSettings(BaseModel):
    """The payment provider (PaymentService). Defaults point at the local simulator;
    set the real API base and keys to talk to the real provider."""

    api_base: str = "http://127.0.0.1:12111"
    secret_key: SecretStr = SecretStr(SIMULATOR_SECRET_KEY)
    webhook_secret: SecretStr = SecretStr(SIMULATOR_WEBHOOK_SECRET)
    # Where the simulator delivers webhooks (Restate ingress), and after how long.
    webhook_url: str = "http://127.0.0.1:8080/PaymentService/processWebhook"
    delayed_status_after: Duration = timedelta(seconds=2)
    # The provider library's own quick retries inside one attempt; Restate retries the
    # whole step durably on top (restate.toml's retry policy).
    network_retries: int = Field(default=1, ge=0)
    # How old a webhook's signature may be (the provider library's default, 300 s); a
    # webhook replayed from Kafka later than this is refused like a forged one.
    webhook_tolerance: Duration = timedelta(minutes=5)
    # How long processPayment waits for the webhook before asking the provider itself: a
    # lost webhook must not strand the payment (nor its record's outcome) for ever.
    webhook_timeout: Duration = timedelta(hours=1)

    @model_validator(mode="after")
    def _no_simulator_secrets_off_loopback(self) -> ProviderSettings:
        """The simulator's secrets are in this source code: against any provider but a
        local simulator, anyone could sign webhooks with them."""
        host = urlsplit(self.api_base).hostname or ""
        if host in LOOPBACK:
            return self
        for name, secret, known in (("secret_key", self.secret_key, SIMULATOR_SECRET_KEY),
                                    ("webhook_secret", self.webhook_secret, SIMULATOR_WEBHOOK_SECRET)):
            if secret.get_secret_value() == known:
                raise ValueError(f"provider.{name} is the local simulator's published default, but api_base "
                                 f"{self.api_base} is not local: set SWITCHYARD_PROVIDER__{name.upper()}")
        return self


class DepositSettings(BaseModel):
    """PaymentService/deposit (betting)."""

    limit: int = 10_000
    limit_restore_after: Duration = timedelta(days=7)
    # Payment methods the simulated charge declines (the limit is given back at once).
    declined_payment_methods: list[str] = Field(default_factory=lambda: ["declined-card"])


class StreamSettings(BaseModel):
    """The Faust stream workers (streams/): windowed views, velocity alerts, pipeline page."""

    # Off, the stack starts no stream worker: the benchmark does so, since the worker reads
    # every record of every topic and would take CPU from the path it measures.
    enabled: bool = True
    web_bind: str = "127.0.0.1:6066"
    # The Faust app id: its consumer group and the prefix of its changelog topics.
    app_id: str = "switchyard-streams"
    # Tumbling window sizes of the traffic views (whole seconds), and how many windows
    # of each size are kept and served.
    windows: list[Duration] = Field(default_factory=lambda: [timedelta(seconds=10), timedelta(minutes=1)])
    history: int = Field(default=12, ge=2)
    # Counts gather in memory and go to the window tables (and their changelog topics) this
    # often, not per record: per record cost six table writes for every input record.
    flush_interval: Duration = timedelta(milliseconds=250)
    # A user over either limit within one window raises one alert on risk-alerts.
    velocity_window: Duration = timedelta(minutes=1)
    velocity_max_count: int = 5
    velocity_max_sum: int = 5_000
    # How often the pipeline page refreshes itself.
    page_refresh: Duration = timedelta(seconds=2)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SWITCHYARD_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    restate: RestateSettings = Field(default_factory=RestateSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    retries: RetrySettings = Field(default_factory=RetrySettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    stack: LocalStackSettings = Field(default_factory=LocalStackSettings)
    feed: FeedSettings = Field(default_factory=FeedSettings)
    packages: PackageSettings = Field(default_factory=PackageSettings)
    reservations: ReservationSettings = Field(default_factory=ReservationSettings)
    booking: BookingSettings = Field(default_factory=BookingSettings)
    machines: MachineSettings = Field(default_factory=MachineSettings)
    payments: PaymentStateSettings = Field(default_factory=PaymentStateSettings)
    tasks: TaskSettings = Field(default_factory=TaskSettings)
    fanout: FanOutSettings = Field(default_factory=FanOutSettings)
    uploads: UploadSettings = Field(default_factory=UploadSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    provider: ProviderSettings = Field(default_factory=ProviderSettings)
    deposits: DepositSettings = Field(default_factory=DepositSettings)
    streams: StreamSettings = Field(default_factory=StreamSettings)

    @cached_property
    def admin_address(self) -> tuple[str, int]:
        return host_port(self.restate.admin_url)

    @cached_property
    def ingress_address(self) -> tuple[str, int]:
        return host_port(self.restate.ingress_url)

    @cached_property
    def kafka_address(self) -> tuple[str, int]:
        first = self.kafka.bootstrap_servers.split(",")[0]
        host, _, port = first.rpartition(":")
        return host or "127.0.0.1", int(port)


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"expected a URL with host and port, got {url!r}")
    return parts.hostname, parts.port
