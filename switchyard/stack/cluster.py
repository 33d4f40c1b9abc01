"""A cluster on this machine: three Kafka brokers (one KRaft quorum), three restate-server
nodes (one cluster: replicated metadata and log), two service replicas behind HAProxy.
Each project's own cluster mechanism does the work: KRaft's controller quorum, restatectl
provisioning, HAProxy's health checks; this module only gives each process its ports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from switchyard.core.settings import split_host_port
from switchyard.settings import Settings
from switchyard.stack.kafka import BrokerSpec

BROKERS, NODES, REPLICAS = 3, 3, 2
# Fixed ports of `switchyard up --cluster`; clients keep the single stack's addresses
# (Kafka's first broker, HAProxy on Restate's 8080/9070 and the service's 9080).
KAFKA_PORTS = [(9092, 9093), (9094, 9095), (9096, 9097)]
RESTATE_PORTS = [(5122, 9170, 8180), (5123, 9171, 8181), (5124, 9172, 8182)]
REPLICA_PORTS = [9180, 9181]


def cluster_sections(kafka: list[tuple[int, int]], restate: list[tuple[int, int, int]], replicas: list[int],
                     host: str = "127.0.0.1") -> dict[str, dict[str, Any]]:
    """The settings sections of a local cluster on these ports."""
    return {
        "kafka": {
            "bootstrap_servers": ",".join(f"{host}:{port}" for port, _ in kafka),
            "replication_factor": min(3, len(kafka)),
            "topic_partitions": 6,
        },
        "stack": {
            "kafka_controller_ports": [controller for _, controller in kafka],
            "restate_nodes": [{"node": n, "admin": a, "ingress": i} for n, a, i in restate],
            "restate_partitions": 6,
            "service_replicas": [f"{host}:{port}" for port in replicas],
        },
    }


def as_cluster(settings: Settings) -> Settings:
    """``settings`` with the fixed local cluster of `switchyard up --cluster`."""
    data = settings.model_dump()
    for section, values in cluster_sections(KAFKA_PORTS, RESTATE_PORTS, REPLICA_PORTS).items():
        data[section] = {**data[section], **values}
    data["stack"]["home"] = Path(".stack") / "cluster"
    return Settings.model_validate(data)


def brokers(settings: Settings) -> list[BrokerSpec]:
    addresses = [split_host_port(a) for a in settings.kafka.bootstrap_servers.split(",")]
    controllers = settings.stack.kafka_controller_ports
    return [BrokerSpec(i, host, port, controller)
            for i, ((host, port), controller) in enumerate(zip(addresses, controllers, strict=True), start=1)]


def replica_settings(settings: Settings, bind: str) -> Settings:
    """One replica's settings: its own bind (and so its own key gate transactional id)."""
    return settings.model_copy(update={"service": settings.service.model_copy(update={"bind": bind})})
