"""restate-server, the platform binary from the npm package, with its own data dir."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from switchyard.core.poll import http_ok, poll_until
from switchyard.settings import Settings
from switchyard.stack.paths import RESTATE_CONFIG, restate_server_binary, restatectl_binary
from switchyard.stack.processes import Managed, StartupError, spawn, wait_until

IDENTITY_ENV = "RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE"


def runtime_threads() -> dict[str, str]:
    """restate-server's async worker threads (its default: one per core). Dropping a Kafka
    consumer blocks a worker until librdkafka has closed it, and Restate drops one per
    subscription on every refused connection to a lost broker: with two workers, each node
    of the local cluster stalled ~5 s at once ("Severe lag" in its log) and a broker's loss
    took 15 s to recover instead of 6 (bench/results/levers/broker-loss.md)."""
    return {"RESTATE_DEFAULT_THREAD_POOL_SIZE": str(max(8, os.cpu_count() or 1))}


def restate_env(settings: Settings, home: Path, identity_file: Path | None = None) -> dict[str, str]:
    """Ports and paths as RESTATE_* overrides on top of restate.toml."""
    admin_host, admin_port = settings.admin_address
    ingress_host, ingress_port = settings.ingress_address
    node = settings.stack.restate_node_port
    env = {
        "RESTATE_BASE_DIR": str(home / "restate"),
        "RESTATE_NODE_NAME": "switchyard-1",
        "RESTATE_BIND_ADDRESS": f"{admin_host}:{node}",
        "RESTATE_ADVERTISED_ADDRESS": f"http://{admin_host}:{node}/",
        "RESTATE_ADMIN__BIND_ADDRESS": f"{admin_host}:{admin_port}",
        "RESTATE_INGRESS__BIND_ADDRESS": f"{ingress_host}:{ingress_port}",
        "RESTATE_DEFAULT_NUM_PARTITIONS": str(settings.stack.restate_partitions),
        # TCP only: the unix sockets' paths would outgrow the limit in deep temp dirs.
        "RESTATE_LISTEN_MODE": "tcp",
        **runtime_threads(),
    }
    if identity_file is not None:
        env[IDENTITY_ENV] = str(identity_file)
    return {**env, **settings.stack.restate_env}


def start_restate(
    settings: Settings, home: Path, timeout: float, identity_file: Path | None = None
) -> tuple[Managed, float]:
    binary = restate_server_binary()
    if not binary.exists():
        raise StartupError(f"restate-server not installed at {binary}: run `npm ci` (or `make setup`)")
    server = spawn(
        "restate",
        [str(binary), "--config-file", str(RESTATE_CONFIG), "--no-logo"],
        home / "run",
        env=restate_env(settings, home, identity_file),
    )
    admin = settings.restate.admin_url
    ingress = settings.restate.ingress_url
    took = wait_until(server, f"Restate admin {admin} and ingress {ingress}", lambda: restate_healthy(settings),
                      timeout)
    return server, took


def restate_healthy(settings: Settings) -> bool:
    """Both the admin API and the ingress answer their health checks."""
    return http_ok(f"{settings.restate.admin_url}/health") and http_ok(f"{settings.restate.ingress_url}/restate/health")


# -- a Restate cluster on this machine (switchyard/stack/cluster.py) -------------------------


def node_host(settings: Settings) -> str:
    """Where a local cluster's nodes listen: the admin URL's host (HAProxy's), an IP for
    `localhost` since a node advertises it to its peers."""
    host = settings.admin_address[0]
    return "127.0.0.1" if host == "localhost" else host


def node_config(settings: Settings, home: Path, index: int) -> dict[str, Any]:
    """restate.toml with node ``index`` (1-based) of the cluster's keys on top: one cluster
    name, a replicated metadata server on every node, Bifrost's replicated loglet, and the
    ports of ``stack.restate_nodes``. Provisioning (partitions, replication) is restatectl's."""
    base = tomllib.loads(RESTATE_CONFIG.read_text())
    nodes = settings.stack.restate_nodes
    ports = nodes[index - 1]
    host = node_host(settings)
    return {
        **base,
        "node-name": f"switchyard-{index}",
        "force-node-id": index,  # ids otherwise go in join order: restatectl's N<i> is node i
        "roles": ["http-ingress", "admin", "worker", "log-server", "metadata-server"],
        "auto-provision": False,
        "default-num-partitions": settings.stack.restate_partitions,
        "default-replication": settings.stack.restate_replication,
        "base-dir": str(home / f"restate-{index}"),
        "listen-mode": "tcp",
        "bind-address": f"{host}:{ports.node}",
        "advertised-address": f"http://{host}:{ports.node}/",
        # Three nodes share one machine: rocksdb's default is 2 GiB each.
        "rocksdb-total-memory-size": "512 MiB",
        "metadata-client": {"type": "replicated", "addresses": node_addresses(settings)},
        "bifrost": {"default-provider": "replicated"},
        "admin": {**base.get("admin", {}), "bind-address": f"{host}:{ports.admin}",
                  "query-engine": {"memory-size": "256 MiB"}},
        "ingress": {**base.get("ingress", {}), "bind-address": f"{host}:{ports.ingress}"},
    }


def node_addresses(settings: Settings) -> list[str]:
    host = node_host(settings)
    return [f"http://{host}:{n.node}/" for n in settings.stack.restate_nodes]


def spawn_node(settings: Settings, home: Path, index: int, identity_file: Path | None = None) -> Managed:
    binary = restate_server_binary()
    if not binary.exists():
        raise StartupError(f"restate-server not installed at {binary}: run `npm ci` (or `make setup`)")
    config = home / f"restate-{index}.toml"
    config.write_text(to_toml(node_config(settings, home, index)))
    env = {IDENTITY_ENV: str(identity_file)} if identity_file is not None else {}
    env |= runtime_threads()
    return spawn(f"restate-{index}", [str(binary), "--config-file", str(config), "--no-logo"], home / "run",
                 env={**env, **settings.stack.restate_env})


def node_healthy(settings: Settings, index: int) -> bool:
    host = node_host(settings)
    ports = settings.stack.restate_nodes[index - 1]
    return http_ok(f"http://{host}:{ports.admin}/health") and http_ok(f"http://{host}:{ports.ingress}/restate/health")


def restatectl(settings: Settings, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    binary = restatectl_binary()
    if not binary.exists():
        raise StartupError(f"restatectl not installed at {binary}: run `npm ci` (or `make setup`)")
    return subprocess.run([str(binary), "--address", ",".join(node_addresses(settings)), *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


PROVISIONED_BEFORE = re.compile(r"already provisioned|has been provisioned by somebody else", re.IGNORECASE)


def provision(settings: Settings, timeout: float) -> float:
    """Provisions a new cluster once (restatectl provision; a provisioned one says so):
    partitions, and a log and partition replication of ``stack.restate_replication``."""
    replication = str(settings.stack.restate_replication)
    outcome: list[str] = []

    def provisioned() -> bool:
        done = restatectl(settings, "--yes", "provision", "--num-partitions", str(settings.stack.restate_partitions),
                          "--log-provider", "replicated", "--log-replication", replication,
                          "--partition-replication", replication)
        text = done.stdout + done.stderr
        outcome[:] = [text]
        # Its exit code is 0 even when no node answered yet: the words say whether it took.
        # A cluster started again on its data dirs says "Cluster has been provisioned by somebody else".
        return "successfully provisioned" in text or PROVISIONED_BEFORE.search(text) is not None

    try:
        return poll_until(provisioned, timeout, 1.0, "restatectl provision")
    except TimeoutError:
        raise StartupError(f"provisioning the Restate cluster failed: {''.join(outcome)[-2000:]}") from None


def to_toml(table: Mapping[str, Any], path: tuple[str, ...] = ()) -> str:
    """The TOML of a config table (strings, numbers, booleans, lists of those, tables)."""
    lines = [f"[{'.'.join(path)}]"] if path else []
    lines += [f"{key} = {_toml_value(value)}" for key, value in table.items() if not isinstance(value, Mapping)]
    nested = [to_toml(value, (*path, key)) for key, value in table.items() if isinstance(value, Mapping)]
    return "\n".join(lines) + "\n\n" + "".join(nested)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def partition_leaders(settings: Settings) -> dict[int, int]:
    """Partition id -> the node (1-based, as `force-node-id` pins them) leading it now."""
    listed = restatectl(settings, "partitions", "list")
    leaders = {}
    for line in (listed.stdout + listed.stderr).splitlines():
        match = LEADER_LINE.match(line)
        if match:
            leaders[int(match.group(1))] = int(match.group(2))
    if not leaders:
        raise StartupError(f"restatectl partitions list named no leader:\n{listed.stdout}{listed.stderr}")
    return leaders


LEADER_LINE = re.compile(r"^\s*(\d+)\s+N(\d+)(?::\d+)?\s+Leader\b")


def all_partitions_led(settings: Settings) -> bool:
    try:
        return len(partition_leaders(settings)) >= settings.stack.restate_partitions
    except StartupError:
        return False
