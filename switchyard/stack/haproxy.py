"""HAProxy in front of a local cluster: HTTP/2 cleartext to the service replicas (what
Restate registers as one deployment), and Restate's ingress and admin API over every node,
so a client keeps working while any one node is down.

During a rolling upgrade (`Stack.upgrade` on a cluster) two versions' replicas run behind
the one service address: the service frontend sends each version's path (`/v/<version>/`,
switchyard/core/versions.py) to that version's replicas and everything else to the
newest. HAProxy runs in master-worker mode, so a changed config is a soft reload: the
master (the pid the launcher tracks) starts a worker on the new config, and the old
worker stops accepting but finishes the connections it holds."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from switchyard.core.poll import poll_until, tcp_listening
from switchyard.core.settings import split_host_port
from switchyard.settings import Settings
from switchyard.stack.processes import Managed, StartupError, children, spawn, wait_until
from switchyard.stack.restate import node_host

# A replica or node is out after two failed checks half a second apart, back after one.
CHECK = "check inter 500ms fall 2 rise 1"


def haproxy_binary() -> Path:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise StartupError("haproxy is not installed: `make setup` installs Debian's package "
                           "(tools/ensure_apt.sh), or install it yourself")
    return Path(found)


# A version and the addresses of the replicas that serve it.
Route = tuple[str, Sequence[str]]


def service_section(settings: Settings, routes: Sequence[Route] = ()) -> list[str]:
    """The service frontend and its backends: the replicas of ``settings`` in one backend,
    or one backend per version of ``routes`` (oldest first): each version's path to its
    own replicas, any other path to the newest's."""
    service_host, service_port = settings.service.address
    lines = ["frontend service", f"    bind {service_host or '0.0.0.0'}:{service_port} proto h2"]
    if len(routes) < 2:
        binds = routes[0][1] if routes else settings.stack.service_replicas
        return [*lines, "    default_backend replicas", *_backend("replicas", "replica", binds), ""]
    backends: list[str] = []
    for version, _ in routes[:-1]:
        lines.append(f"    use_backend replicas-{version} if {{ path_beg /v/{version}/ }}")
    lines.append(f"    default_backend replicas-{routes[-1][0]}")
    for version, binds in routes:
        backends += _backend(f"replicas-{version}", f"{version}-replica", binds)
    return [*lines, *backends, ""]


def _backend(name: str, server: str, binds: Sequence[str]) -> list[str]:
    return [f"backend {name}", "    balance leastconn",
            *[f"    server {server}-{i} {bind} proto h2 {CHECK}" for i, bind in enumerate(binds, start=1)]]


def haproxy_config(settings: Settings, routes: Sequence[Route] = ()) -> str:
    host = node_host(settings)
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
        *service_section(settings, routes),
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


def start_haproxy(settings: Settings, home: Path, timeout: float,
                  routes: Sequence[Route] = ()) -> tuple[Managed, float]:
    config = home / "haproxy.cfg"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(haproxy_config(settings, routes))
    # -W: master-worker, so a new config is a soft reload of the same master (SIGUSR2);
    # -db: in the foreground, so the launcher tracks and signals it like the rest (its
    # workers are in its process group: stopping it stops them).
    managed = spawn("haproxy", [str(haproxy_binary()), "-W", "-db", "-f", str(config)], home / "run")
    host, port = split_host_port(settings.service.bind)
    took = wait_until(managed, f"HAProxy on {settings.service.bind}", lambda: tcp_listening(host or "127.0.0.1", port),
                      timeout)
    return managed, took


class Master(Protocol):
    """HAProxy's master process: started here (`Managed`) or by an earlier `up` (`Adopted`)."""

    name: str

    @property
    def pid(self) -> int: ...

    def alive(self) -> bool: ...


def reload_haproxy(master: Master, settings: Settings, home: Path, timeout: float,
                   routes: Sequence[Route] = ()) -> float:
    """Writes the config for ``routes`` and reloads HAProxy without dropping a connection:
    the config is checked first (a bad one is refused, the running one kept), then the
    master re-reads it and starts a worker on it, while the old worker finishes what it
    holds. Returns once the new worker runs."""
    config = home / "haproxy.cfg"
    candidate = config.with_name("haproxy.cfg.new")
    candidate.write_text(haproxy_config(settings, routes))
    checked = subprocess.run([str(haproxy_binary()), "-c", "-q", "-f", str(candidate)], capture_output=True,
                             text=True, timeout=timeout, check=False)
    if checked.returncode != 0:
        raise StartupError(f"HAProxy refused the new config {candidate} (the running one is kept):\n"
                           f"{checked.stdout}{checked.stderr}")
    before = children(master.pid)
    candidate.replace(config)
    os.kill(master.pid, signal.SIGUSR2)  # the master only: it signals its workers itself

    def reloaded() -> bool:
        if not master.alive():
            raise StartupError(f"HAProxy ({master.name}, pid {master.pid}) exited while reloading {config}")
        return bool(children(master.pid) - before)

    try:
        return poll_until(reloaded, timeout, 0.1, "HAProxy's worker on the new config")
    except TimeoutError:
        raise StartupError(f"HAProxy (pid {master.pid}) started no worker on {config} within {timeout:g}s") from None
