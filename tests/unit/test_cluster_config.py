"""The local cluster's configuration: what each process is told (tests/integration/test_cluster.py
runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from bench.cluster import kinds, sizing
from switchyard.core.settings import SettingsError, load
from switchyard.settings import Settings
from switchyard.stack.cluster import as_cluster, brokers, cluster_sections
from switchyard.stack.haproxy import haproxy_config
from switchyard.stack.kafka import BrokerSpec, server_properties
from switchyard.stack.paths import REPLICAS_FILE, live_service, restate_server_binary
from switchyard.stack.restate import LEADER_LINE, node_config, restate_env, to_toml
from switchyard.stack.stack import in_stop_order

PORTS = cluster_sections([(19092, 19093), (19094, 19095), (19096, 19097)],
                         [(15122, 19170, 18180), (15123, 19171, 18181), (15124, 19172, 18182)], [19180, 19181])


def cluster_settings() -> Settings:
    return Settings.model_validate({**PORTS, "_env_file": None})


def test_three_brokers_form_one_quorum_and_keep_three_copies() -> None:
    s = cluster_settings()
    nodes = brokers(s)
    assert [(b.node_id, b.port, b.controller_port) for b in nodes] == [(1, 19092, 19093), (2, 19094, 19095),
                                                                         (3, 19096, 19097)]
    props = server_properties(Path("/data"), nodes[1], [b.voter for b in nodes], 6)
    assert "node.id=2" in props.splitlines()
    assert "controller.quorum.voters=1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097" in props
    for line in ("default.replication.factor=3", "min.insync.replicas=2", "offsets.topic.replication.factor=3",
                 "transaction.state.log.min.isr=2"):
        assert line in props.splitlines()
    single = server_properties(Path("/data"), BrokerSpec(0, "127.0.0.1", 9092, 9093), ["1@127.0.0.1:9093"], 1)
    assert "min.insync.replicas=1" in single.splitlines()
    assert "node.id=1" in single.splitlines()


def test_each_restate_node_joins_one_replicated_cluster() -> None:
    s = cluster_settings()
    config = node_config(s, Path("/home"), 3)
    assert tomllib.loads(to_toml(config)) == config  # what restate-server reads is what was meant
    assert config["force-node-id"] == 3
    assert config["auto-provision"] is False  # restatectl provisions, once
    assert config["metadata-client"] == {"type": "replicated", "addresses": [
        "http://127.0.0.1:15122/", "http://127.0.0.1:15123/", "http://127.0.0.1:15124/"]}
    assert config["bifrost"] == {"default-provider": "replicated"}
    assert config["default-replication"] == 2
    assert config["admin"]["bind-address"] == "127.0.0.1:19172"
    assert config["ingress"]["bind-address"] == "127.0.0.1:18182"
    assert config["default-retry-policy"]["on-max-attempts"] == "pause"  # restate.toml's own tables kept


def test_haproxy_speaks_h2_to_every_replica_and_fronts_every_node() -> None:
    s = cluster_settings()
    config = haproxy_config(s).splitlines()
    assert "    bind 127.0.0.1:9080 proto h2" in config
    assert sum("proto h2 check" in line for line in config) == 2
    assert "    balance first" in config  # the admin API: one node's view, right after a registration
    assert sum("option httpchk" in line for line in config) == 2
    assert sum(line.startswith("    server node-") for line in config) == 6


def test_the_fixed_cluster_keeps_the_clients_addresses() -> None:
    s = as_cluster(Settings.model_validate({"_env_file": None}))
    assert s.stack.is_cluster
    assert s.kafka.bootstrap_servers == "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"
    assert (s.restate.ingress_url, s.restate.admin_url, s.service.bind) == (
        "http://127.0.0.1:8080", "http://127.0.0.1:9070", "127.0.0.1:9080")  # HAProxy's
    assert s.kafka.replication_factor == 3


def test_one_controller_port_per_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS", "a:1,b:2,c:3")
    monkeypatch.setenv("SWITCHYARD_STACK__KAFKA_CONTROLLER_PORTS", "[4, 5]")
    with pytest.raises(SettingsError, match="2 ports for 3 brokers"):
        load(Settings)


def test_stop_order_is_the_start_order_reversed() -> None:
    names = ["kafka-1", "service-2", "restate-1", "haproxy", "kafka-2", "streams", "service-1", "smtp"]
    assert in_stop_order(names) == ["streams", "haproxy", "service-2", "service-1", "smtp", "restate-1", "kafka-2",
                                    "kafka-1"]


def test_partition_leaders_are_read_from_restatectl() -> None:
    leader = LEADER_LINE.match(" 4             N3    Leader    active         3      64")
    assert leader is not None
    assert leader.groups() == ("4", "3")
    assert LEADER_LINE.match(" 4             N2:1  Follower  active         3      64") is None


def test_sizing_adds_up_the_replicas_and_leaves_headroom() -> None:
    doc = {"rows": {"cluster": {"cpu_ms_per_record": {"kafka-1": 0.2, "kafka-2": 0.2, "kafka-3": 0.1,
                                                       "restate-1": 0.5, "service-1": 0.6, "loadgen": 0.3}}}}
    assert kinds(doc["rows"]["cluster"]["cpu_ms_per_record"])["kafka"] == 0.5
    rows = {kind: cores for kind, _, cores in sizing(doc, (10_000,), 0.5)}
    assert rows == {"kafka": [10.0], "restate": [10.0], "service": [12.0]}  # 10k x ms / 1000 / 0.5


def test_haproxy_routes_each_version_to_its_own_replicas_during_an_upgrade() -> None:
    """Both versions behind the one service address: `/v/<old>/` to the old replicas,
    everything else (the new version's path, unversioned paths) to the newest."""
    s = cluster_settings()
    config = haproxy_config(s, [("v1", ["127.0.0.1:1", "127.0.0.1:2"]), ("v2", ["127.0.0.1:3", "127.0.0.1:4"])])
    lines = config.splitlines()
    assert "    use_backend replicas-v1 if { path_beg /v/v1/ }" in lines
    assert "    default_backend replicas-v2" in lines
    assert sum(line.startswith("    use_backend") for line in lines) == 1
    v1 = lines[lines.index("backend replicas-v1") + 1:lines.index("backend replicas-v2")]
    assert [line.split()[2] for line in v1 if line.startswith("    server")] == ["127.0.0.1:1", "127.0.0.1:2"]
    assert sum("proto h2 check" in line for line in lines) == 4
    # One version again: the config `up` writes, on that version's replicas.
    assert haproxy_config(s, [("v2", ["127.0.0.1:3", "127.0.0.1:4"])]) == haproxy_config(
        s.model_copy(update={"stack": s.stack.model_copy(update={"service_replicas": ["127.0.0.1:3", "127.0.0.1:4"]})}))


def test_the_cluster_s_replicas_are_where_an_upgrade_recorded_them(tmp_path: Path) -> None:
    s = Settings.model_validate({**PORTS, "stack": {**PORTS["stack"], "home": tmp_path}, "_env_file": None})
    assert live_service(s).stack.service_replicas == ["127.0.0.1:19180", "127.0.0.1:19181"]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / REPLICAS_FILE).write_text(json.dumps([
        {"version": "v1", "names": ["service-1", "service-2"], "binds": ["127.0.0.1:1", "127.0.0.1:2"]},
        {"version": "v2", "names": ["service-v2-1", "service-v2-2"], "binds": ["127.0.0.1:3", "127.0.0.1:4"]}]))
    live = live_service(s)
    assert live.stack.service_replicas == ["127.0.0.1:3", "127.0.0.1:4"]  # the newest version's
    assert live.service.bind == s.service.bind  # HAProxy's, unmoved


def test_restate_server_takes_at_least_eight_async_workers(tmp_path: Path) -> None:
    """A lost broker's consumer restarts each block a worker (broker-loss.md); restate-server
    ignores a setting it does not know, so its own dump of the config must show ours."""
    env = restate_env(cluster_settings(), tmp_path)
    workers = int(env["RESTATE_DEFAULT_THREAD_POOL_SIZE"])
    assert workers >= max(8, os.cpu_count() or 1)
    dumped = subprocess.run([str(restate_server_binary()), "--dump-config"], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=60, check=True).stdout
    assert tomllib.loads(dumped)["default-thread-pool-size"] == workers
