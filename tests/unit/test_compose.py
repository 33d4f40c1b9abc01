"""docker-compose.cluster.yml: the topology of `switchyard up --cluster` from images, kept in
step with the native cluster's own config (switchyard/stack/{kafka,restate,haproxy}.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from switchyard.core.identity import PRIVATE_KEY_FILE, public_key_from
from switchyard.settings import Settings
from switchyard.stack.cluster import BROKERS, NODES, REPLICAS, as_cluster
from switchyard.stack.haproxy import CHECK, haproxy_config
from switchyard.stack.kafka import BrokerSpec, server_properties
from switchyard.stack.paths import REPO
from switchyard.stack.restate import node_config

CLUSTER_COMPOSE = REPO / "docker-compose.cluster.yml"
HAPROXY_CFG = REPO / "tools" / "cluster" / "haproxy.cfg"
BROKER_NAMES = [f"kafka-{i}" for i in range(1, BROKERS + 1)]
NODE_NAMES = [f"restate-{i}" for i in range(1, NODES + 1)]
REPLICA_NAMES = [f"service-{i}" for i in range(1, REPLICAS + 1)]


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    compose: dict[str, Any] = yaml.safe_load(CLUSTER_COMPOSE.read_text())
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


@pytest.fixture
def native(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings of `switchyard up --cluster`, whatever this shell's SWITCHYARD_* say."""
    for name in [n for n in os.environ if n.startswith("SWITCHYARD_")]:
        monkeypatch.delenv(name)
    return as_cluster(Settings(_env_file=None))


def env(service: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in service.get("environment", {}).items()}


def test_three_kafka_brokers_form_one_kraft_quorum(services: dict[str, dict[str, Any]]) -> None:
    kafka = sorted(name for name, s in services.items() if str(s.get("image", "")).startswith("apache/kafka:"))
    assert kafka == BROKER_NAMES
    envs = [env(services[name]) for name in kafka]
    assert [e["KAFKA_NODE_ID"] for e in envs] == ["1", "2", "3"]
    cluster_ids = {e["CLUSTER_ID"] for e in envs}
    assert len(cluster_ids) == 1
    assert len(cluster_ids.pop()) == 22  # one base64 UUID for all three
    voters = ",".join(f"{i}@{name}:9093" for i, name in enumerate(BROKER_NAMES, start=1))
    for name, e in zip(kafka, envs, strict=True):
        assert e["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert e["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voters
        assert f"PLAINTEXT://{name}:9092" in e["KAFKA_ADVERTISED_LISTENERS"].split(",")
    # The first broker on the host's 9092 as in docker-compose.yml, the others where
    # `switchyard up --cluster` puts them; each advertises the port it is published on.
    for name, port in zip(kafka, (9092, 9094, 9096), strict=True):
        assert services[name]["ports"] == [f"127.0.0.1:{port}:19092"]
        assert f"PLAINTEXT_HOST://127.0.0.1:{port}" in env(services[name])["KAFKA_ADVERTISED_LISTENERS"]


def test_kafka_brokers_are_configured_as_the_native_cluster(services: dict[str, dict[str, Any]]) -> None:
    """Every broker setting of `server_properties` that is not about addresses or paths is
    the same here (as the image's KAFKA_* variables: `a.b.c` -> KAFKA_A_B_C)."""
    nodes = [BrokerSpec(i, "127.0.0.1", 9092 + 2 * (i - 1), 9093 + 2 * (i - 1)) for i in range(1, BROKERS + 1)]
    properties = server_properties(Path("/data"), nodes[0], [n.voter for n in nodes], 6)
    local = {"node.id", "controller.quorum.voters", "listeners", "advertised.listeners", "log.dirs",
             "listener.security.protocol.map"}  # compose adds a PLAINTEXT_HOST listener for the host
    expected = dict(line.split("=", 1) for line in properties.splitlines() if line)
    assert expected["default.replication.factor"] == "3"
    assert expected["min.insync.replicas"] == "2"
    for name in BROKER_NAMES:
        e = env(services[name])
        for key, value in expected.items():
            if key not in local:
                var = "KAFKA_" + key.upper().replace(".", "_")
                assert e.get(var) == value, f"{name}: {var} should be {value} as in server_properties"


def test_three_restate_nodes_form_one_cluster(services: dict[str, dict[str, Any]], native: Settings) -> None:
    restate = sorted(name for name, s in services.items() if "restatedev/restate:" in str(s.get("image", "")))
    assert restate == NODE_NAMES
    envs = [env(services[name]) for name in restate]
    assert [e["RESTATE_FORCE_NODE_ID"] for e in envs] == ["1", "2", "3"]
    assert len({e["RESTATE_NODE_NAME"] for e in envs}) == NODES
    # restatectl is not in the image: exactly one node provisions the cluster itself.
    assert [e["RESTATE_AUTO_PROVISION"] for e in envs] == ["true", "false", "false"]

    config = node_config(native, Path("/data"), 1)
    addresses = [f"http://{name}:5122/" for name in NODE_NAMES]
    for name, e in zip(restate, envs, strict=True):
        # restate-server reads a RESTATE_* value as TOML-like: lists as `["a","b"]`.
        values = tomllib.loads(f"roles = {e['RESTATE_ROLES']}\n"
                               f"addresses = {e['RESTATE_METADATA_CLIENT__ADDRESSES']}\n")
        assert values["roles"] == config["roles"]
        assert values["addresses"] == addresses
        assert e["RESTATE_ADVERTISED_ADDRESS"] in addresses
        assert e["RESTATE_METADATA_CLIENT__TYPE"] == config["metadata-client"]["type"]
        assert e["RESTATE_BIFROST__DEFAULT_PROVIDER"] == config["bifrost"]["default-provider"] == "replicated"
        assert e["RESTATE_DEFAULT_REPLICATION"] == str(config["default-replication"]) == "2"
        assert e["RESTATE_DEFAULT_NUM_PARTITIONS"] == str(config["default-num-partitions"])
        assert e["RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE"] == "/identity/request-identity.pem"
        # On top of the project's restate.toml (retry policy), as in docker-compose.yml.
        node = services[name]
        assert "./restate.toml:/restate.toml:ro" in node["volumes"]
        assert node["command"] == ["--config-file", "/restate.toml"]
    assert len({e["RESTATE_ADVERTISED_ADDRESS"] for e in envs}) == NODES


def test_two_service_replicas_behind_haproxy(services: dict[str, dict[str, Any]]) -> None:
    replicas = sorted(name for name, s in services.items()
                      if "build" in s and "command" not in s and "profiles" not in s)
    assert replicas == REPLICA_NAMES
    brokers = ",".join(f"{name}:9092" for name in BROKER_NAMES)
    for name in replicas:
        e = env(services[name])
        assert e["SWITCHYARD_SERVICE__BIND"] == "0.0.0.0:9080"
        assert e["SWITCHYARD_SERVICE__IDENTITY_DIR"] == "/identity"
        assert "identity:/identity:ro" in services[name]["volumes"]
        assert e["SWITCHYARD_KAFKA__REPLICATION_FACTOR"] == "3"
        assert e["SWITCHYARD_RESTATE__ADMIN_URL"] == "http://haproxy:9070"
        assert e["SWITCHYARD_RESTATE__INGRESS_URL"] == "http://haproxy:8080"
        assert e["SWITCHYARD_RESTATE__DEPLOYMENT_URL"] == "http://haproxy:9080"
        assert "SWITCHYARD_SERVICE__INSECURE_ACCEPT_UNSIGNED" not in e
    # Two key gates must never share a transactional id: they would fence each other.
    assert len({env(services[name])["SWITCHYARD_GATE__TRANSACTIONAL_ID"] for name in replicas}) == REPLICAS
    # Every Switchyard process (replicas, streams, simulators, bootstrap) uses all three brokers.
    users = [name for name, s in services.items() if "SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS" in env(s)]
    assert {*REPLICA_NAMES, "streams", "bootstrap", "provider", "smtp"} <= set(users)
    for name in users:
        assert env(services[name])["SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS"] == brokers
    assert services["bootstrap"]["command"] == ["switchyard", "bootstrap"]


@pytest.mark.parametrize("name", ["docker-compose.cluster.yml", "docker-compose.yml"])
def test_the_identity_command_makes_the_key_pair(name: str, tmp_path: Path) -> None:
    """The `identity` service's command, run here as the image runs it (the venv's
    `switchyard` and `python` on PATH, the volume's mount point made a temporary
    directory): it makes the key Restate's nodes read and prints its public key. A command
    that does nothing (`python -m` of a module without a `__main__` exits 0 silently) fails."""
    service = yaml.safe_load((REPO / name).read_text())["services"]["identity"]
    mount = next(v.split(":")[1] for v in service["volumes"] if v.split(":")[0] == "identity")
    assert mount == "/identity"  # where restate reads request-identity.pem and the service its key
    argv = [str(tmp_path / "identity") if arg == mount else str(arg) for arg in service["command"]]
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    program = shutil.which(argv[0], path=path)
    assert program is not None, f"{argv[0]} is not on PATH"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")} | {"PATH": path}
    done = subprocess.run([program, *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    key_file = tmp_path / "identity" / PRIVATE_KEY_FILE
    assert key_file.exists(), f"{' '.join(service['command'])} made no {PRIVATE_KEY_FILE}"
    assert done.stdout.splitlines() == [public_key_from(key_file)]


def haproxy_sections(text: str) -> dict[str, list[str]]:
    """`kind name` (`global`, `defaults`) -> its lines, comments and blanks left out."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if raw[0].isspace():
            current.append(line)
        else:
            current = sections.setdefault(line, [])
    return sections


def test_haproxy_fronts_replicas_ingress_and_admin(services: dict[str, dict[str, Any]], native: Settings) -> None:
    haproxy = services["haproxy"]
    assert "./tools/cluster/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in haproxy["volumes"]
    assert sorted(haproxy["ports"]) == ["127.0.0.1:8080:8080", "127.0.0.1:9070:9070"]

    ours = haproxy_sections(HAPROXY_CFG.read_text())
    theirs = haproxy_sections(haproxy_config(native))
    assert {k for k in ours if k.startswith("frontend ")} == {"frontend service", "frontend ingress",
                                                              "frontend admin"}
    # The same defaults (timeouts, redispatch, retries) as the native cluster's.
    assert set(theirs["defaults"]) <= set(ours["defaults"])
    assert {"option redispatch", "retries 3"} <= set(ours["defaults"])
    assert ours["frontend service"][0] == "bind :9080 proto h2"
    assert ours["frontend ingress"][0] == "bind :8080"
    assert ours["frontend admin"][0] == "bind :9070"

    targets = [
        ("service", "replicas", [f"{name}:9080" for name in REPLICA_NAMES]),
        ("ingress", "ingress-nodes", [f"{name}:8080" for name in NODE_NAMES]),
        ("admin", "admin-nodes", [f"{name}:9070" for name in NODE_NAMES]),
    ]
    for frontend, name, addresses in targets:
        assert ours[f"frontend {frontend}"][1] == f"default_backend {name}"
        backend = f"backend {name}"
        settings_lines = [line for line in ours[backend] if not line.startswith("server ")]
        assert settings_lines == [line for line in theirs[backend] if not line.startswith("server ")]
        servers = [line.split() for line in ours[backend] if line.startswith("server ")]
        native_servers = [line.split() for line in theirs[backend] if line.startswith("server ")]
        assert [s[2] for s in servers] == addresses
        # Same names and options (proto h2, the health check timing) as natively.
        assert [s[:2] + s[3:] for s in servers] == [s[:2] + s[3:] for s in native_servers]
        assert all(" ".join(s[3:]).endswith(CHECK) for s in servers)
    assert ours["backend ingress-nodes"][:2] == ["balance roundrobin", "option httpchk GET /restate/health"]
    assert ours["backend admin-nodes"][:2] == ["balance first", "option httpchk GET /health"]
    assert all("proto h2" in line for line in ours["backend replicas"] if line.startswith("server "))


def compose_available() -> bool:
    """The docker client with its compose plugin (the plugin is a separate install)."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    return subprocess.run([docker, "compose", "version"], capture_output=True, check=False, timeout=60).returncode == 0


@pytest.mark.parametrize("name", ["docker-compose.cluster.yml", "docker-compose.yml"])
def test_docker_compose_accepts_the_file(name: str) -> None:
    if not compose_available():
        pytest.skip("no `docker compose` client on PATH")
    done = subprocess.run(["docker", "compose", "-f", name, "config", "-q"], cwd=REPO,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
