"""Settings of the dev stack's optional components, which any app may use: the stream
worker (``streams``), and the simulators of an email server (``email``: SMTP to a local
sink) and of a payment provider (``provider``). The stack starts each one an app needs
(switchyard/stack/); an app's own handlers read the same sections.

Import rule: the core only (docs/architecture.md).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator

from switchyard.core.settings import LOOPBACK, CoreSettings, Duration, HostPort, HttpUrl, Port, Section


class StreamSettings(Section):
    """The Faust stream workers (streams/): windowed views, velocity alerts, pipeline page."""

    # Off, the stack starts no stream worker: the benchmark does so, since the worker reads
    # every record of every topic and would take CPU from the path it measures.
    enabled: bool = True
    web_bind: HostPort = "127.0.0.1:6066"
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


class EmailSettings(Section):
    """SMTP for outgoing mail; the dev stack and tests run a local sink here."""

    smtp_host: str = "127.0.0.1"
    smtp_port: Port = 1025
    sender: str = "switchyard@localhost"


SIMULATOR_SECRET_KEY = "sk_test_switchyard_simulator"
SIMULATOR_WEBHOOK_SECRET = "whsec_switchyard_simulator"


class ProviderSettings(Section):
    """The payment provider (PaymentService). Defaults point at the local simulator;
    set the real API base and keys to talk to the real provider."""

    api_base: HttpUrl = "http://127.0.0.1:12111"
    secret_key: SecretStr = SecretStr(SIMULATOR_SECRET_KEY)
    webhook_secret: SecretStr = SecretStr(SIMULATOR_WEBHOOK_SECRET)
    # Where the simulator delivers webhooks (Restate ingress), and after how long.
    webhook_url: HttpUrl = "http://127.0.0.1:8080/PaymentService/processWebhook"
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


class SimulatorSettings(CoreSettings):
    """What the simulators' processes load: the core's sections and their own."""

    email: EmailSettings = Field(default_factory=EmailSettings)
    provider: ProviderSettings = Field(default_factory=ProviderSettings)
