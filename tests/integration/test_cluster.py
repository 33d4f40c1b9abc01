"""Scale-out for real: three Kafka brokers (one KRaft quorum), three restate-server nodes
(one cluster: replicated metadata and log), two service replicas behind HAProxy, on this
machine. Nodes are lost under load: a Restate node (the one leading the most partitions),
a broker (the leader of a busy partition, then the active controller), a service replica;
and the cluster keeps going with a Restate node and a broker down. Counted from state and
from the -results/-dlq topics, as the single-stack fault suite counts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

from switchyard.core.admin import RestateAdmin
from switchyard.core.versions import base_of
from switchyard.faults.suite import CLUSTER_SCENARIOS, Timings, fault_settings, run_scenario
from switchyard.stack.cluster import brokers
from switchyard.stack.restate import partition_leaders
from switchyard.stack.stack import Stack, settings_env

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home: Path = tmp_path_factory.mktemp("cluster")
    # No stream worker: eight processes already share two cores.
    stack = Stack(fault_settings(home, cluster=True, streams=False), home,
                  progress=lambda line: print(line, flush=True))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def test_the_cluster_is_what_it_says(cluster: Stack) -> None:
    s = cluster.settings
    assert len(brokers(s)) == 3
    admin = AdminClient({**s.kafka.client_config(), "log_level": "0"})
    assert len(admin.list_topics(timeout=10).brokers) == 3
    # Every input and companion topic on three brokers, two of them in sync to take a write.
    routed = "package-location-updates-routed"
    meta = admin.list_topics(routed, timeout=10).topics[routed]
    assert all(len(p.replicas) == 3 for p in meta.partitions.values())
    config = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, routed)])
    described = next(iter(config.values())).result(timeout=10)
    assert described["min.insync.replicas"].value == "2"
    restate = RestateAdmin(s.restate.admin_url)
    try:
        registered = restate.kafka_cluster(s.kafka.cluster_name)
        assert registered is not None
        assert registered["properties"]["bootstrap.servers"] == s.kafka.bootstrap_servers  # all three brokers
        deployments = httpx.get(f"{s.restate.admin_url}/deployments", timeout=10).json()["deployments"]
        assert [base_of(d["uri"]) for d in deployments] == [s.restate.deployment_url]  # HAProxy: one deployment
    finally:
        restate.close()
    # Partitions spread: more than one node leads some.
    assert len(set(partition_leaders(s).values())) >= 2


def test_status_shows_every_node_with_its_role_and_the_partition_leaders(cluster: Stack) -> None:
    env = {**os.environ, **settings_env(cluster.settings)}
    done = subprocess.run([str(Path(sys.executable).parent / "switchyard"), "status"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for name in ("kafka-1", "kafka-2", "kafka-3", "restate-1", "restate-2", "restate-3", "service-1", "service-2"):
        row = next((line for line in lines if line.startswith(name) and " up " in f" {line} "), None)
        assert row is not None, f"{name} not shown up:\n{done.stdout}"
    assert sum("(active)" in line for line in lines) == 1, done.stdout  # one active KRaft controller
    assert sum("leads partitions" in line for line in lines) == 3, done.stdout


# CI-sized: each loss in turn under one load, then a Restate node and a broker kept down
# (`switchyard faults --cluster` also runs each loss on its own).
@pytest.mark.timeout(600)  # a failover on two shared cores can outlast the default 300 s before it settles
@pytest.mark.parametrize("scenario", ["cluster-in-turn", "degraded"])
def test_losing_a_node_loses_nothing(cluster: Stack, scenario: str) -> None:
    report = run_scenario(cluster, scenario, CLUSTER_SCENARIOS[scenario], keys=5, rate=40.0,
                          timings=Timings(warmup=1.5, downtime=0.5, degraded=4.0, settle=240.0))
    assert report.produced > 60
    assert (report.lost, report.duplicated, report.order_violations, report.stuck) == (0, 0, 0, 0), report
    assert report.processed == report.produced
    assert (report.outcomes_missing, report.outcome_copies_differ) == (0, 0), report
    assert 0 < report.recovery_s < 60 or scenario == "degraded"
    if scenario == "degraded":
        assert report.throughput_degraded is not None, report
        assert report.throughput_degraded > 0, report
        assert [d.split()[0] for d in report.disrupted] == ["down", "down"]
    else:
        hit = [d.split()[1] for d in report.disrupted]
        assert [h.split("-")[0] for h in hit] == ["restate", "kafka", "service"], hit
