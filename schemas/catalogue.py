"""The examples' topic catalogue: every input topic, what its key means, its value schema, the
Restate handler it feeds, and its `-results` / `-dlq` companions.

This is the one place topics are declared. The bootstrap, the producers, the README
table and the tests all read it. Each topic's sample record (what the load generator sends)
is made by its value model's ``sample`` classmethod, beside the schema.
"""

from __future__ import annotations

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
from switchyard.core.catalogue import (
    COMPANION_MAX_BYTES,
    INGEST_HANDLER,
    Catalogue,
    ServiceKind,
    StreamTopic,
    Topic,
    describe_error,
)

TOPICS: tuple[Topic, ...] = (
    Topic("social-media-posts", "userId", SocialMediaPost, "UserFeed", "processPost", "object",
          "posts of one user, moderated in order, users in parallel", sample=SocialMediaPost.sample),
    Topic("package-location-updates", "packageId", LocationUpdate, "PackageTracker", "updateLocation",
          "object", "location events enriching a registered package", sample=LocationUpdate.sample),
    Topic("product-reservations", "productId", ReservationRequest, "ProductService", "reserve", "object",
          "durable RPC: a product is reserved once", sample=ReservationRequest.sample),
    Topic("trip-bookings", "tripId", BookingRequest, "BookingWorkflow", "run", "workflow",
          "saga: flight, car, payment; compensations on failure", sample=BookingRequest.sample),
    Topic("machine-commands", "machineId", MachineCommand, "MachineOperator", "handleCommand", "object",
          "stateful actor: setUp/tearDown one transition at a time", sample=MachineCommand.sample),
    Topic("payment-commands", "paymentId", PaymentCommand, "PaymentProcessor", "handleCommand", "object",
          "payment state machine: make/cancel in any order", sample=PaymentCommand.sample),
    Topic("task-queue", "taskId", TaskRequest, "AsyncTaskWorker", "runTask", "service",
          "(delayed) task queue: each task once, after its delay", sample=TaskRequest.sample),
    Topic("fanout-tasks", "jobId", FanOutRequest, "FanOutWorker", "run", "service",
          "fan-out/fan-in over comma-separated subtasks", sample=FanOutRequest.sample),
    Topic("upload-requests", "uploadId", UploadRequest, "DataUploadService", "run", "workflow",
          "sync-to-async upload: the URL by email when slow", sample=UploadRequest.sample),
    Topic("payment-requests", "requestId", PaymentRequest, "PaymentService", "processPayment", "service",
          "payments: synchronous answer or a signed webhook", sample=PaymentRequest.sample),
    Topic("payment-webhooks", "eventId", WebhookEvent, "PaymentService", "processWebhook", "service",
          "the provider's signed webhook events"),
    Topic("wallet-deposits", "depositId", DepositRequest, "PaymentService", "deposit", "service",
          "betting deposits under a per-user limit", sample=DepositRequest.sample),
    Topic("bench-events", "benchKey", BenchEvent, "BenchCounter", "add", "object",
          "the benchmark's per-key counter (bench/run.py)", sample=BenchEvent.sample),
)

STREAM_TOPICS: tuple[StreamTopic, ...] = (
    StreamTopic("risk-alerts", "userId", RiskAlert, "streams.velocity",
                "a user over the deposit velocity limits in one window, once per window"),
)


CATALOGUE = Catalogue(TOPICS, STREAM_TOPICS)

# The catalogue's lookups under short names, for the examples' own modules and tests.
topic = CATALOGUE.topic
stream_topic = CATALOGUE.stream_topic
topic_for_routed = CATALOGUE.topic_for_routed
companion_topics = CATALOGUE.companion_topics
routed_topics = CATALOGUE.routed_topics
gated_topics = CATALOGUE.gated_topics
all_topic_names = CATALOGUE.all_topic_names

__all__ = [
    "CATALOGUE", "COMPANION_MAX_BYTES", "INGEST_HANDLER", "STREAM_TOPICS", "TOPICS", "Catalogue", "ServiceKind",
    "StreamTopic", "Topic", "all_topic_names", "companion_topics", "describe_error", "gated_topics", "routed_topics",
    "stream_topic", "topic", "topic_for_routed",
]
