"""HAProxy in front of a local cluster: HTTP/2 cleartext to the service replicas (what
Restate registers as one deployment), and Restate's ingress and admin API over every node,
so a client keeps working while any one node is down."""

from __future__ import annotations

import shutil
from pathlib import Path

from switchyard.core.poll import tcp_listening
from switchyard.core.settings import split_host_port
from switchyard.settings import Settings
from switchyard.stack.processes import Managed, StartupError, spawn, wait_until
from switchyard.stack.restate import node_host

# A replica or node is out after two failed checks half a second apart, back after one.
CHECK = "check inter 500ms fall 2 rise 1"


def haproxy_binary() -> Path:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise StartupError("haproxy is not installed: `make setup` installs Debian's package "
                           "(tools/ensure_apt.sh), or install it yourself")
    return Path(found)


def haproxy_config(settings: Settings) -> str:
    host = node_host(settings)
    service_host, service_port = settings.service.address
    lines = [
        "global",
        "    maxconn 4000",  # its fd need stays under a default ulimit
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        # An invocation's HTTP/2 stream stays open while the handler runs or waits.
        "    timeout client 10m",
        "    timeout server 10m",
        "    option redispatch",  # a connection refused by a dead backend is tried on another
        "    retries 3",
        "",
        "frontend service",
        f"    bind {service_host or '0.0.0.0'}:{service_port} proto h2",
        "    default_backend replicas",
        "backend replicas",
        "    balance leastconn",
        *[f"    server replica-{i} {bind} proto h2 {CHECK}"
          for i, bind in enumerate(settings.stack.service_replicas, start=1)],
        "",
    ]
    nodes = settings.stack.restate_nodes
    if nodes:
        # The admin API goes to the first node up: a deployment registered through one node
        # is not yet known to another for a moment, and the bootstrap subscribes right after.
        for role, address, ports, health, balance in (
            ("ingress", settings.ingress_address, [n.ingress for n in nodes], "/restate/health", "roundrobin"),
            ("admin", settings.admin_address, [n.admin for n in nodes], "/health", "first"),
        ):
            lines += [
                f"frontend {role}",
                f"    bind {address[0]}:{address[1]}",
                f"    default_backend {role}-nodes",
                f"backend {role}-nodes",
                f"    balance {balance}",
                f"    option httpchk GET {health}",
                *[f"    server node-{i} {host}:{port} {CHECK}" for i, port in enumerate(ports, start=1)],
                "",
            ]
    return "\n".join(lines)


def start_haproxy(settings: Settings, home: Path, timeout: float) -> tuple[Managed, float]:
    config = home / "haproxy.cfg"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(haproxy_config(settings))
    # -db: in the foreground, so the launcher tracks and signals it like the rest.
    managed = spawn("haproxy", [str(haproxy_binary()), "-db", "-f", str(config)], home / "run")
    host, port = split_host_port(settings.service.bind)
    took = wait_until(managed, f"HAProxy on {settings.service.bind}", lambda: tcp_listening(host or "127.0.0.1", port),
                      timeout)
    return managed, took
