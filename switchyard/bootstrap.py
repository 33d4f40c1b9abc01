"""The subscription bootstrap: idempotent, safe to re-run.

Creates every catalogue topic and its companions, registers the Kafka cluster in Restate,
registers the service deployment (forced: the code may have changed), and subscribes each
topic to its sink handler if that subscription is missing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from schemas.catalogue import TOPICS, all_topic_names
from switchyard.admin import ComponentDown, RestateAdmin
from switchyard.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class BootstrapReport:
    topics_created: list[str] = field(default_factory=list)
    cluster: str = "unchanged"  # created | updated | unchanged
    services: list[str] = field(default_factory=list)
    subscriptions_created: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"topics created: {', '.join(self.topics_created) or 'none (all present)'}",
            f"kafka cluster: {self.cluster}",
            f"services registered: {', '.join(self.services)}",
            f"subscriptions created: {', '.join(self.subscriptions_created) or 'none (all present)'}",
        ]


def ensure_topics(settings: Settings) -> list[str]:
    admin = AdminClient({**settings.kafka.client_config(), "log_level": "0"})
    try:
        admin.list_topics(timeout=10)
    except KafkaException as exc:
        raise ComponentDown(f"Kafka at {settings.kafka.bootstrap_servers} is not reachable ({exc})") from None
    return create_missing(admin, all_topic_names(), settings.kafka.topic_partitions, settings.kafka.replication_factor)


def create_missing(admin: AdminClient, names: list[str], partitions: int, replication: int) -> list[str]:
    """Creates those of ``names`` that do not exist yet, returns them once all ``names`` have leaders."""
    existing = set(admin.list_topics(timeout=10).topics)
    missing = [name for name in names if name not in existing]
    if missing:
        for future in admin.create_topics([NewTopic(name, partitions, replication) for name in missing]).values():
            try:
                future.result(timeout=30)
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise
    await_leaders(admin, names)
    return missing


def await_leaders(admin: AdminClient, names: list[str], timeout: float = 30.0) -> None:
    """New topics take a moment to elect leaders; subscribing before that only adds noise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=10).topics
        if all(n in topics and topics[n].partitions and all(p.leader >= 0 for p in topics[n].partitions.values())
               for n in names):
            return
        time.sleep(0.2)


def ensure_cluster(admin: RestateAdmin, settings: Settings) -> str:
    properties = settings.kafka.client_config()
    current = admin.kafka_cluster(settings.kafka.cluster_name)
    if current is None:
        admin.create_kafka_cluster(settings.kafka.cluster_name, properties)
        return "created"
    if current.get("properties") != properties:
        admin.update_kafka_cluster(settings.kafka.cluster_name, properties)
        return "updated"
    return "unchanged"


def ensure_subscriptions(admin: RestateAdmin, settings: Settings, handlers: set[str]) -> list[str]:
    present = {(s["source"], s["sink"]) for s in admin.subscriptions()}
    created = []
    for t in TOPICS:
        source = f"kafka://{settings.kafka.cluster_name}/{t.name}"
        if (source, t.sink) in present:
            continue
        if t.target not in handlers:
            log.warning("not subscribing %s: handler %s is not registered", t.name, t.target)
            continue
        admin.create_subscription(source, t.sink, dict(settings.kafka.subscription_options))
        created.append(t.name)
    return created


def bootstrap(settings: Settings) -> BootstrapReport:
    report = BootstrapReport()
    report.topics_created = ensure_topics(settings)
    admin = RestateAdmin(settings.restate.admin_url)
    try:
        report.cluster = ensure_cluster(admin, settings)
        deployment = admin.register_deployment(settings.restate.deployment_url)
        services = deployment.get("services", [])
        report.services = sorted(s["name"] for s in services)
        handlers = {f"{s['name']}/{h['name']}" for s in services for h in s.get("handlers", [])}
        report.subscriptions_created = ensure_subscriptions(admin, settings, handlers)
    finally:
        admin.close()
    return report
