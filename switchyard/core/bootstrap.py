"""The subscription bootstrap: idempotent, safe to re-run.

Creates every catalogue topic and its companions, registers the Kafka cluster in Restate,
registers the running version of the service as a deployment of its own (never over
another version: switchyard/core/versions.py), unregisters older versions once nothing is
in flight on them, and subscribes each topic to its sink handler if that subscription is
missing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic  # type: ignore[attr-defined]

from switchyard.core.admin import ComponentDown, RestateAdmin, kafka_source
from switchyard.core.catalogue import COMPANION_MAX_BYTES, Catalogue, Topic
from switchyard.core.group_sessions import broker_session_bounds, fitted
from switchyard.core.poll import poll_until
from switchyard.core.preflight import KafkaUnreachable, check_kafka
from switchyard.core.settings import HEARTBEAT, SESSION, CoreSettings
from switchyard.core.versions import VERSION_PATH, base_of, version_of, versioned_url

log = logging.getLogger(__name__)


@dataclass
class BootstrapReport:
    topics_created: list[str] = field(default_factory=list)
    cluster: str = "unchanged"  # created | updated | unchanged
    services: list[str] = field(default_factory=list)
    subscriptions_created: list[str] = field(default_factory=list)
    subscriptions_retired: list[str] = field(default_factory=list)
    version: str = ""
    deployment: str = ""
    draining: list[str] = field(default_factory=list)  # older versions with invocations in flight
    deployments_retired: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"topics created: {', '.join(self.topics_created) or 'none (all present)'}",
            f"kafka cluster: {self.cluster}",
            f"deployment: version {self.version} at {self.deployment}" if self.version else
            f"deployment: {self.deployment} (unversioned: registered over the last one, forced)",
            *([f"draining (older versions keep serving their invocations in flight): {'; '.join(self.draining)}"]
              if self.draining else []),
            *([f"retired (drained): {', '.join(self.deployments_retired)}"] if self.deployments_retired else []),
            f"services registered: {', '.join(self.services)}",
            f"subscriptions created: {', '.join(self.subscriptions_created) or 'none (all present)'}",
            *([f"subscriptions retired (direct ones on gated topics, stale ones on routed topics): "
               f"{', '.join(self.subscriptions_retired)}"] if self.subscriptions_retired else []),
        ]


def ensure_topics(settings: CoreSettings, catalogue: Catalogue) -> list[str]:
    # A refused login, an untrusted certificate or a missing ACL: one line, before any change.
    try:
        check_kafka(settings.kafka, read=[t.name for t in catalogue.topics],
                    write=[*catalogue.routed_topics(), *catalogue.companion_topics()])
    except KafkaUnreachable as exc:
        raise ComponentDown(str(exc)) from None
    admin = AdminClient({**settings.kafka.client_config(), "log_level": "0"})
    created = create_missing(admin, catalogue.all_topic_names(), settings.kafka.topic_partitions,
                             settings.kafka.replication_factor, catalogue)
    grow_routed(admin, catalogue)
    return created


def grow_routed(admin: AdminClient, catalogue: Catalogue) -> list[str]:
    """Gives each routed twin as many partitions as its input topic has now: the key gate
    copies a record to the partition it came from, and input topics grow while running
    (the gate also grows a twin it finds short). Returns the twins grown."""
    topics = admin.list_topics(timeout=10).topics
    short = {t.routed: len(topics[t.name].partitions) for t in catalogue.gated_topics()
             if t.name in topics and t.routed in topics
             and len(topics[t.routed].partitions) < len(topics[t.name].partitions)}
    if not short:
        return []
    for name, future in admin.create_partitions([NewPartitions(n, c) for n, c in short.items()]).items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            if "INVALID_PARTITIONS" not in str(exc):  # the gate grew it meanwhile
                raise
        log.info("grew %s to %d partitions, as its input topic", name, short[name])
    await_leaders(admin, list(short))
    return list(short)


def create_missing(
    admin: AdminClient, names: list[str], partitions: int, replication: int, catalogue: Catalogue | None = None
) -> list[str]:
    """Creates those of ``names`` that do not exist yet, returns them once all ``names`` have leaders.

    Companion topics take records as large as their input's plus headers (the key gate's
    base64 envelope, a dead letter); a routed topic gets its input's partition count, so
    the gate can copy every record to the partition it came from; a topic's replay
    markers (`<topic>-dlq-replayed`) are compacted.
    """
    existing = admin.list_topics(timeout=10).topics
    missing = [name for name in names if name not in existing]
    if missing:
        new = [NewTopic(name, _partitions(catalogue, name, existing, partitions), replication,
                        config=_config(catalogue, name))
               for name in missing]
        for future in admin.create_topics(new).values():
            try:
                future.result(timeout=30)
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise
    await_leaders(admin, names)
    return missing


def _partitions(catalogue: Catalogue | None, name: str, existing: dict[str, Any], default: int) -> int:
    source = catalogue.topic_for_routed(name) if catalogue is not None else None
    if source is not None and source.name in existing:
        return max(default, len(existing[source.name].partitions))
    return default


def _config(catalogue: Catalogue | None, name: str) -> dict[str, str]:
    if catalogue is not None and any(t.dlq_replayed == name for t in catalogue.topics):
        return {"cleanup.policy": "compact"}  # one marker per DLQ record is all that must be kept
    if catalogue is None or name in catalogue.companion_topics() or catalogue.topic_for_routed(name) is not None:
        return {"max.message.bytes": str(COMPANION_MAX_BYTES)}
    return {}


def await_leaders(admin: AdminClient, names: list[str], timeout: float = 30.0) -> None:
    """New topics take a moment to elect leaders: waits until every partition of ``names``
    has one, as a subscription made before that only adds noise. ComponentDown names the
    topics still without one after ``timeout`` seconds."""
    leaderless = list(names)

    def led() -> bool:
        topics = admin.list_topics(timeout=10).topics
        leaderless[:] = [n for n in names if n not in topics or not topics[n].partitions
                         or any(p.leader < 0 for p in topics[n].partitions.values())]
        return not leaderless

    try:
        poll_until(led, timeout, what="topic leaders")
    except TimeoutError:
        raise ComponentDown(f"Kafka elected no leader within {timeout:g}s for: {', '.join(leaderless)}") from None


def ensure_cluster(admin: RestateAdmin, settings: CoreSettings) -> str:
    properties = settings.kafka.client_config()
    current = admin.kafka_cluster(settings.kafka.cluster_name)
    if current is None:
        admin.create_kafka_cluster(settings.kafka.cluster_name, properties)
        return "created"
    if current.get("properties") != properties:
        admin.update_kafka_cluster(settings.kafka.cluster_name, properties)
        return "updated"
    return "unchanged"


def ensure_subscriptions(
    admin: RestateAdmin, settings: CoreSettings, catalogue: Catalogue, handlers: set[str]
) -> list[str]:
    """Subscribes each topic's subscribed topic (a gated topic's routed twin) to its sink."""
    present = {(s["source"], s["sink"]) for s in admin.subscriptions()}
    created: list[str] = []
    options: dict[str, str] | None = None
    for t in catalogue.topics:
        source = kafka_source(settings.kafka.cluster_name, t.subscribed_topic)
        if (source, t.subscription_sink) in present:
            continue
        if f"{t.subscribed_service}/{t.subscribed_handler}" not in handlers:
            log.warning("not subscribing %s: %s is not registered", t.name, t.subscription_sink)
            continue
        if options is None:
            options = subscription_options(settings)
        admin.create_subscription(source, t.subscription_sink, options)
        created.append(t.subscribed_topic)
    return created


def subscription_options(settings: CoreSettings) -> dict[str, str]:
    """kafka.subscription_options with the group session fitted to the brokers'."""
    asked = settings.kafka.subscription_options
    options = fitted(asked, broker_session_bounds(settings.kafka.client_config()))
    if options != asked:
        log.warning("kafka.subscription_options: session.timeout.ms %s is outside what the brokers accept; "
                    "new subscriptions use %s (heartbeat.interval.ms %s)", asked.get(SESSION, "unset"),
                    options[SESSION], options.get(HEARTBEAT, "unset"))
    return options


def retire_direct_subscriptions(admin: RestateAdmin, settings: CoreSettings, catalogue: Catalogue) -> list[str]:
    """Deletes Restate subscriptions that read a gated topic itself (a stack bootstrapped
    before the key gate, or the seeds' curl) once the gate has taken the topic over: such
    a subscription halts on the first binary key and delivers every record a second time.
    Also those on a routed topic (ours alone) with another sink than the catalogue's, left
    by an older version: a sink that is gone halts its subscription for good."""
    kafka = AdminClient({**settings.kafka.client_config(), "log_level": "0"})
    retired = []
    for sub in admin.subscriptions():
        name = topic_name_of(sub["source"], settings.kafka.cluster_name)
        routed = catalogue.topic_for_routed(name)
        if routed is not None and sub["sink"] != routed.subscription_sink:
            admin.delete_subscription(sub["id"])
            retired.append(f"{name} -> {sub['sink']}")
            continue
        t = gated_by_name(catalogue, name)
        if t is not None and gate_has_taken_over(kafka, settings.gate.group_id, t.name):
            admin.delete_subscription(sub["id"])
            retired.append(f"{t.name} -> {sub['sink']}")
    return retired


def topic_name_of(source: str, cluster: str) -> str:
    """The topic of a subscription source on our cluster (`kafka://<cluster>/<topic>`); "" otherwise."""
    prefix = kafka_source(cluster, "")
    return source.removeprefix(prefix) if source.startswith(prefix) else ""


def gated_by_name(catalogue: Catalogue, name: str) -> Topic | None:
    try:
        t = catalogue.topic(name)
    except KeyError:
        return None
    return t if t.gated else None


def gate_has_taken_over(kafka: AdminClient, group: str, topic_name: str) -> bool:
    request = ConsumerGroupTopicPartitions(group)
    try:
        committed = kafka.list_consumer_group_offsets([request])[group].result(timeout=30).topic_partitions
    except KafkaException:
        return False
    return any(tp.topic == topic_name and tp.offset >= 0 for tp in committed or [])


def get_version(url: str, timeout: float) -> httpx.Response:
    """GET ``url`` over HTTP/1.1, or over HTTP/2 with prior knowledge where only that is
    spoken (HAProxy's service frontend in front of a cluster's replicas, `proto h2`)."""
    try:
        return httpx.get(url, timeout=timeout)
    except httpx.RemoteProtocolError:  # closed without an answer: an h2-only listener
        with httpx.Client(http1=False, http2=True, timeout=timeout) as h2:
            return h2.get(url)


CONNECT_GRACE = 15.0  # seconds a refused connection to the service is retried


def served_version(deployment_url: str, timeout: float = 30.0) -> str:
    """The version the service at ``deployment_url`` runs (it answers `GET /version`); ""
    for a service that does not (a plain `restate.app`, registered as before: forced at
    its address, so a code change there breaks its invocations in flight)."""
    deadline = time.monotonic() + CONNECT_GRACE
    while True:
        try:
            answer = get_version(f"{deployment_url.rstrip('/')}{VERSION_PATH}", timeout)
            break
        except httpx.ConnectError as exc:
            # A service just (re)started may not listen yet: its port can still be held
            # by the process it replaces, or not bound while it imports the app.
            if time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            raise ComponentDown(f"the service at {deployment_url} is not reachable ({exc})") from None
        except httpx.TransportError as exc:
            raise ComponentDown(f"the service at {deployment_url} is not reachable ({exc})") from None
    if answer.status_code != 200:
        log.warning("the service at %s has no %s: registering it unversioned", deployment_url, VERSION_PATH)
        return ""
    return str(answer.json()["version"])


def retire_drained(admin: RestateAdmin, current: str) -> tuple[list[str], list[str]]:
    """Unregisters every older version of this deployment's services with no invocation in
    flight (superseded and drained); lists those still draining, with their counts and
    whether any process still serves them (one that none serves holds its invocations
    until it runs again: `switchyard upgrade` keeps the old version up while it drains).
    Another app's deployment on the same Restate (services of its own) is left alone."""
    inflight = admin.inflight_by_deployment()
    retired, draining = [], []
    deployments = admin.deployments()
    ours = {s["name"] for d in deployments if str(d["id"]) == current for s in d.get("services", [])}
    for d in deployments:
        deployment_id, uri = str(d["id"]), str(d.get("uri", ""))
        names = {s["name"] for s in d.get("services", [])}
        if deployment_id == current or not names or not names <= ours:
            continue
        count = inflight.get(deployment_id, 0)
        if count == 0:
            admin.delete_deployment(deployment_id)
            retired.append(f"{version_of(uri) or 'unversioned'} ({uri})")
            continue
        state = "served" if _serves(uri) else "NOT SERVED: start that version again to let it drain"
        draining.append(f"{version_of(uri) or 'unversioned'} at {uri}: {count} in flight, {state}")
    return retired, draining


def _serves(uri: str) -> bool:
    """Whether a process at ``uri``'s address serves that deployment's version: asked at
    the version's own path first (behind HAProxy, where each version's path reaches that
    version's replicas), then at the address."""
    want = version_of(uri)
    try:
        if want is not None:
            own = get_version(f"{uri.rstrip('/')}{VERSION_PATH}", 5)
            if own.status_code == 200 and own.headers.get("content-type") == "application/json" \
                    and own.json().get("version") == want:
                return True
        answer = get_version(f"{base_of(uri)}{VERSION_PATH}", 5)
    except httpx.TransportError:
        return False
    if want is None:  # registered before versions: any of our processes serves bare paths
        return answer.status_code == 200
    return answer.status_code == 200 and answer.json().get("version") == want


def bootstrap(settings: CoreSettings, catalogue: Catalogue) -> BootstrapReport:
    report = BootstrapReport()
    report.topics_created = ensure_topics(settings, catalogue)
    admin = RestateAdmin(settings.restate.admin_url)
    try:
        report.cluster = ensure_cluster(admin, settings)
        base = str(settings.restate.deployment_url)
        report.version = served_version(base)
        force = settings.restate.force_register or not report.version
        report.deployment = versioned_url(base, report.version) if report.version else base
        deployment = admin.register_deployment(report.deployment, force=force)
        report.deployments_retired, report.draining = retire_drained(admin, str(deployment["id"]))
        services = deployment.get("services", [])
        report.services = sorted(s["name"] for s in services)
        handlers = {f"{s['name']}/{h['name']}" for s in services for h in s.get("handlers", [])}
        report.subscriptions_created = ensure_subscriptions(admin, settings, catalogue, handlers)
        report.subscriptions_retired = retire_direct_subscriptions(admin, settings, catalogue)
    finally:
        admin.close()
    return report
