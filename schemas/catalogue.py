"""The topic catalogue: every input topic, what its key means, its value schema, the
Restate handler it feeds, and its `-results` / `-dlq` companions.

This is the one place topics are declared. The bootstrap, the producers, the README
table and the tests all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, RootModel, ValidationError

from schemas.bench import BenchEvent
from schemas.bookings import BookingRequest
from schemas.deposits import DepositRequest
from schemas.fanout import FanOutRequest
from schemas.machines import MachineCommand
from schemas.packages import LocationUpdate
from schemas.payments import PaymentCommand
from schemas.posts import SocialMediaPost
from schemas.reservations import ReservationRequest
from schemas.signals import PaymentRequest, WebhookEvent
from schemas.streams import RiskAlert
from schemas.tasks import TaskRequest
from schemas.uploads import UploadRequest

ServiceKind = Literal["object", "workflow", "service"]


@dataclass(frozen=True)
class Topic:
    name: str
    key: str  # what the record key means
    value: type[BaseModel]
    service: str
    handler: str
    kind: ServiceKind
    summary: str

    @property
    def noun(self) -> str:
        """The flow's name in every layer: schemas/, handlers/, producers/demos/ and
        tests/*/test_<noun>.py all use it."""
        return self.value.__module__.rsplit(".", 1)[-1]

    @property
    def results(self) -> str:
        return f"{self.name}-results"

    @property
    def dlq(self) -> str:
        return f"{self.name}-dlq"

    @property
    def dlq_replayed(self) -> str:
        """Compacted markers of DLQ records replayed to this topic (created by
        `switchyard-dlq replay` on first use), so each is replayed once."""
        return f"{self.name}-dlq-replayed"

    @property
    def target(self) -> str:
        return f"{self.service}/{self.handler}"

    @property
    def sink(self) -> str:
        """The sink URI of the handler the contract names (what the seeds' curl subscribes)."""
        return f"service://{self.service}/{self.handler}"

    @property
    def gated(self) -> bool:
        """Restate needs a UTF-8 key for object and workflow sinks and retries any other
        record forever, halting the whole subscription (restatedev/restate#4682). Such
        topics reach Restate through Switchyard's key gate (switchyard/gate.py), which
        dead-letters records whose key cannot be an object key."""
        return self.kind != "service"

    @property
    def routed(self) -> str:
        """The gate's output for a gated topic: same partitions and keys, each value an
        envelope naming its source record (schemas.envelope.RoutedRecord)."""
        return f"{self.name}-routed"

    @property
    def subscribed_topic(self) -> str:
        """The topic Restate's subscription reads."""
        return self.routed if self.gated else self.name

    @property
    def subscribed_service(self) -> str:
        """The service Restate's subscription invokes. A workflow's `run` can be invoked
        once per key and Restate refuses a second one before any code runs, so a workflow
        topic feeds a virtual object of the same keys (one record at a time per key, in
        order) that calls `run` and reports either outcome (handlers/sink.py)."""
        return f"{self.service}{INGEST_SUFFIX}" if self.kind == "workflow" else self.service

    @property
    def subscribed_handler(self) -> str:
        return INGEST_HANDLER if self.kind == "workflow" else self.handler

    @property
    def subscription_sink(self) -> str:
        return f"service://{self.subscribed_service}/{self.subscribed_handler}"

    @property
    def keyed_by_record(self) -> bool:
        """Objects and workflows take the Kafka key as their key; plain services take it
        as the idempotency key."""
        return self.kind != "service"

    def parse(self, raw: bytes) -> Any:
        """Validate a record value; raises ``ValueError`` (incl. ValidationError)."""
        parsed = self.value.model_validate_json(raw)
        return parsed.root if isinstance(parsed, RootModel) else parsed


# The record size companion topics (-results, -dlq, -routed) take, and what our producers
# send: a record the broker took on an input topic (up to its 1,048,588-byte default) must
# fit as a dead letter with headers, or base64-wrapped by the key gate.
COMPANION_MAX_BYTES = 4 * 1024 * 1024

INGEST_HANDLER = "ingest"
INGEST_SUFFIX = "Ingest"

TOPICS: tuple[Topic, ...] = (
    Topic("social-media-posts", "userId", SocialMediaPost, "UserFeed", "processPost", "object",
          "posts of one user, moderated in order, users in parallel"),
    Topic("package-location-updates", "packageId", LocationUpdate, "PackageTracker", "updateLocation",
          "object", "location events enriching a registered package"),
    Topic("product-reservations", "productId", ReservationRequest, "ProductService", "reserve", "object",
          "durable RPC: a product is reserved once"),
    Topic("trip-bookings", "tripId", BookingRequest, "BookingWorkflow", "run", "workflow",
          "saga: flight, car, payment; compensations on failure"),
    Topic("machine-commands", "machineId", MachineCommand, "MachineOperator", "handleCommand", "object",
          "stateful actor: setUp/tearDown one transition at a time"),
    Topic("payment-commands", "paymentId", PaymentCommand, "PaymentProcessor", "handleCommand", "object",
          "payment state machine: make/cancel in any order"),
    Topic("task-queue", "taskId", TaskRequest, "AsyncTaskWorker", "runTask", "service",
          "(delayed) task queue: each task once, after its delay"),
    Topic("fanout-tasks", "jobId", FanOutRequest, "FanOutWorker", "run", "service",
          "fan-out/fan-in over comma-separated subtasks"),
    Topic("upload-requests", "uploadId", UploadRequest, "DataUploadService", "run", "workflow",
          "sync-to-async upload: the URL by email when slow"),
    Topic("payment-requests", "requestId", PaymentRequest, "PaymentService", "processPayment", "service",
          "payments: synchronous answer or a signed webhook"),
    Topic("payment-webhooks", "eventId", WebhookEvent, "PaymentService", "processWebhook", "service",
          "the provider's signed webhook events"),
    Topic("wallet-deposits", "depositId", DepositRequest, "PaymentService", "deposit", "service",
          "betting deposits under a per-user limit"),
    Topic("bench-events", "benchKey", BenchEvent, "BenchCounter", "add", "object",
          "the benchmark's per-key counter (bench/run.py)"),
)

_BY_NAME = {t.name: t for t in TOPICS}
_BY_ROUTED = {t.routed: t for t in TOPICS if t.gated}


@dataclass(frozen=True)
class StreamTopic:
    """A topic the stream workers (streams/) derive from the input topics: no sink
    handler, no companions; the bootstrap creates it with the others."""

    name: str
    key: str
    value: type[BaseModel]
    writer: str  # the streams module that produces it
    summary: str


STREAM_TOPICS: tuple[StreamTopic, ...] = (
    StreamTopic("risk-alerts", "userId", RiskAlert, "streams.velocity",
                "a user over the deposit velocity limits in one window, once per window"),
)


def stream_topic(name: str) -> StreamTopic:
    for s in STREAM_TOPICS:
        if s.name == name:
            return s
    raise KeyError(f"unknown stream topic {name!r}; known: {', '.join(s.name for s in STREAM_TOPICS)}")


def topic(name: str) -> Topic:
    """The catalogue entry for an input topic; KeyError names the known topics."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown topic {name!r}; known: {', '.join(_BY_NAME)}") from None


def topic_for_sink(service: str, handler: str) -> Topic:
    for t in TOPICS:
        if (t.service, t.handler) == (service, handler):
            return t
    raise KeyError(f"no topic feeds {service}/{handler}")


def companion_topics() -> list[str]:
    return [name for t in TOPICS for name in (t.results, t.dlq)]


def routed_topics() -> list[str]:
    return [t.routed for t in TOPICS if t.gated]


def gated_topics() -> list[Topic]:
    return [t for t in TOPICS if t.gated]


def topic_for_routed(name: str) -> Topic | None:
    return _BY_ROUTED.get(name)


def all_topic_names() -> list[str]:
    return [t.name for t in TOPICS] + companion_topics() + routed_topics() + [s.name for s in STREAM_TOPICS]


REASON_PART_CHARS = 300  # some messages quote the input (a union's tag): a 1 MB tag must not
# become a 1 MB DLQ header, which would push the DLQ record over the broker's size limit.


def describe_error(exc: Exception) -> str:
    """A one-line reason naming the offending field(s), for DLQ headers and 400s; bounded
    in length whatever the input."""
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors(include_url=False)[:5]:
            loc = ".".join(str(p) for p in err["loc"]) or "(value)"
            parts.append(_clip(f"{_clip(loc)}: {err['msg']}"))
        more = exc.error_count() - len(parts)
        return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
    return _clip(str(exc), 5 * REASON_PART_CHARS)


def _clip(text: str, limit: int = REASON_PART_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"
