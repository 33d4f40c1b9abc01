"""The dev stack: fetch, up, down, reset, status, bootstrap, serve, demo, identity."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from switchyard.cli.base import Subcommands, UsageError, command

if TYPE_CHECKING:
    from switchyard.settings import Settings

KAFKA = "kafka.bootstrap_servers"
ADMIN = "restate.admin_url"
INGRESS = "restate.ingress_url"
HOME = "stack.home"


def register(sub: Subcommands) -> None:
    command(sub, "fetch", cmd_fetch, "fetch the Kafka jars, install kafka-console-producer, link the npm binaries",
            settings=None)
    up = command(sub, "up", cmd_up, "start what of Kafka, Restate, the simulators, the service and the stream worker "
                 "is not running (a dead one too), keep what runs; bootstrap",
                 settings=[HOME, KAFKA, ADMIN, "service.bind"])
    down = command(sub, "down", cmd_down, "stop the dev stack (and the local cluster, if one runs)", settings=[HOME])
    reset = command(sub, "reset", cmd_reset, "stop the dev stack and delete its data (Kafka logs, Restate data)",
                    settings=[HOME])
    status = command(sub, "status", cmd_status, "components, subscriptions, paused invocations, service metrics",
                     settings=[HOME, ADMIN])
    for p in (up, reset):
        p.add_argument("--cluster", action="store_true", help=CLUSTER_HELP)
    up.add_argument("--secure", action="store_true",
                    help="a broker that takes SASL_SSL (SCRAM-SHA-512) only, with ACLs per principal; the "
                         "principals' client settings in <stack home>/secure/ (the home stays secured)")
    down.add_argument("--cluster", action="store_true", help="only the local cluster (default: both)")
    status.add_argument("--cluster", action="store_true",
                        help="the local cluster's (default: the cluster's when one runs, else the single stack's)")
    command(sub, "bootstrap", cmd_bootstrap, "topics, Kafka cluster, deployment, subscriptions (idempotent)",
            settings=[KAFKA, ADMIN, "restate.deployment_url", "kafka.cluster_name"])
    command(sub, "serve", cmd_serve, "run the Python service in the foreground (one replica when scaling out)",
            settings=["service.bind", "service.server", "service.workers", "service.identity_keys",
                      "service.identity_dir", "service.insecure_accept_unsigned"])
    identity = command(sub, "identity", cmd_identity,
                       "make Restate's request-identity key pair in DIR (if missing); print its public key",
                       settings=None)
    identity.add_argument("dir", metavar="DIR", type=Path, help="where request-identity.pem is (made 0600 in a 0700 "
                          "directory)")


CLUSTER_HELP = ("a local cluster instead: 3 Kafka brokers (KRaft quorum), 3 Restate nodes (replicated "
                "metadata and log), 2 service replicas behind HAProxy; data in .stack/cluster")


def on_cluster(settings: Settings, args: argparse.Namespace, detect: bool = False) -> Settings:
    """The local cluster's settings when asked for (``--cluster``), or, with ``detect``,
    when the cluster is what runs; else ``settings``."""
    from switchyard.stack.cluster import as_cluster

    if settings.stack.is_cluster:
        return settings
    if getattr(args, "cluster", False):
        return as_cluster(settings)
    cluster = as_cluster(settings)
    return cluster if detect and running(cluster) and not running(settings) else settings


# -- fetch ------------------------------------------------------------------------------


def cmd_fetch(args: argparse.Namespace) -> int:
    from confluent_kafka import KafkaException

    from switchyard.stack.kafka import ensure_jars, install_console_producer, train_class_archive
    from switchyard.stack.paths import restate_cli_binary, restate_server_binary
    from switchyard.stack.processes import StartupError

    libs = ensure_jars()
    print(f"Kafka jars: {libs} ({len(list(libs.glob('*.jar')))} jars)")
    began = time.monotonic()
    try:
        archive = train_class_archive(libs)
    except (StartupError, KafkaException, OSError) as exc:  # an optimisation: setup goes on without it
        print(f"Kafka's class archive: not trained ({exc}); brokers start without one")
    else:
        print(f"Kafka's class archive: {archive} ({time.monotonic() - began:.1f}s)" if archive
              else "Kafka's class archive: this JVM wrote none; brokers start without one")
    bin_dir = Path(sys.executable).parent
    print(f"{install_console_producer(bin_dir, libs)}: Apache Kafka's ConsoleProducer")
    for binary in (restate_server_binary(), restate_cli_binary()):
        if not binary.exists():
            raise UsageError(f"missing {binary}: run `npm ci`")
        # On the venv's PATH, so `restate kv get ...` works as in the seed READMEs.
        link = bin_dir / binary.name
        link.unlink(missing_ok=True)
        link.symlink_to(binary)
        print(f"{link} -> {binary}")
    return 0


# -- up, down, reset ----------------------------------------------------------------------


def component_states(settings: Settings) -> dict[str, tuple[str, int]]:
    """Per component with a pid file: (state, pid), state as `process_state` tells it."""
    from switchyard.stack.paths import dev_home
    from switchyard.stack.processes import pidfile_names, process_state
    from switchyard.stack.stack import in_stop_order

    run_dir = dev_home(settings) / "run"
    states = {}
    for name in reversed(in_stop_order(pidfile_names(run_dir))):  # in start order
        text = (run_dir / f"{name}.pid").read_text().strip()
        states[name] = (process_state(text), int(text.split()[0]) if text[:1].isdigit() else 0)
    return states


def running(settings: Settings) -> dict[str, int]:
    return {name: pid for name, (state, pid) in component_states(settings).items() if state != "dead"}


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    """Starts what of the stack is not running (all of it, or a dead or missing component),
    keeps what runs, bootstraps (switchyard/stack/revive.py)."""
    from switchyard.stack.paths import dev_home, live_service
    from switchyard.stack.revive import up
    from switchyard.stack.stack import Stack

    # The service where it runs since an upgrade: kept there, or started there again.
    settings = live_service(on_cluster(settings, args))
    if getattr(args, "secure", False):
        settings.stack.secure = True
    start = time.monotonic()
    stack = Stack(settings, dev_home(settings))
    decision, _ = up(stack)
    if stack.secured is not None:
        print(f"Kafka takes SASL_SSL only: client settings per principal in {stack.secured.dir} "
              f"(`set -a; . {stack.secured.dir}/switchyard.env; set +a` before other commands)")
    took = f"{time.monotonic() - start:.1f}s"
    if not decision.start:
        print(f"stack already up; bootstrapped again in {took}")
        return 0
    started = f" (started {', '.join(decision.start)})" if decision.keep else ""
    print(f"stack up in {took}{started}; stop it with `switchyard down` (or `make down`)")
    return 0


def cmd_down(settings: Settings, args: argparse.Namespace) -> int:
    from switchyard.stack.cluster import as_cluster
    from switchyard.stack.paths import dev_home
    from switchyard.stack.stack import Stack

    stopped: list[str] = []
    for stack_settings in ([on_cluster(settings, args)] if args.cluster or settings.stack.is_cluster
                           else [settings, as_cluster(settings)]):
        stopped += running(stack_settings)
        Stack(stack_settings, dev_home(stack_settings)).stop()
    print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    return 0


def cmd_reset(settings: Settings, args: argparse.Namespace) -> int:
    import shutil

    from switchyard.stack.paths import dev_home

    settings = on_cluster(settings, args)
    cmd_down(settings, args)
    home = dev_home(settings)
    shutil.rmtree(home, ignore_errors=True)
    print(f"removed {home} (Kafka logs, Restate data, pid files)")
    return 0


# -- status -----------------------------------------------------------------------------


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    """Prints each section in turn. A section that cannot be had (Restate down) ends the
    command with exit 2 after what was printed so far: the components come first, so
    they say which part is down."""
    from switchyard.stack.paths import live_service

    settings = live_service(on_cluster(settings, args, detect=True))
    shown = 0
    for section in (*STATUS_SECTIONS[:1], cluster_section, *STATUS_SECTIONS[1:]) if settings.stack.is_cluster \
            else STATUS_SECTIONS:
        lines = section(settings)
        if lines:
            print(("\n" if shown else "") + "\n".join(lines), flush=True)
            shown += 1
    return 0


def components_section(settings: Settings) -> list[str]:
    """Which component runs, which is frozen or dead (and its log)."""
    from switchyard.stack.paths import dev_home
    from switchyard.stack.stack import ORDER

    states = component_states(settings)
    lines = []
    single = [n for n in ORDER if n != "haproxy"]  # HAProxy runs only in front of a cluster
    kinds = {name.split("-")[0] for name in states}  # `service-<port>` after an upgrade is the service
    for name in [*states, *(n for n in single if n not in kinds and not settings.stack.is_cluster)]:
        state, pid = states.get(name, ("stopped", 0))
        shown = {"running": f"running (pid {pid})", "frozen": f"FROZEN (pid {pid} is stopped: kill -CONT {pid})",
                 "dead": f"DEAD (pid {pid} is gone; its log: {dev_home(settings) / 'run' / f'{name}.log'})",
                 }.get(state, "stopped")
        lines.append(f"{name:10} {shown}")
    return lines


def cluster_section(settings: Settings) -> list[str]:
    """Each broker and Restate node: its address, role and health; who leads what."""
    from switchyard.core.poll import tcp_listening
    from switchyard.core.settings import split_host_port
    from switchyard.core.text import render_table
    from switchyard.stack.cluster import brokers
    from switchyard.stack.kafka import kafka_ready, quorum_leader
    from switchyard.stack.processes import StartupError
    from switchyard.stack.restate import node_healthy, partition_leaders

    try:
        controller: int | None = quorum_leader(settings.kafka.bootstrap_servers)
    except StartupError:
        controller = None
    rows = []
    for b in brokers(settings):
        role = "broker, controller" + (" (active)" if b.node_id == controller else "")
        up = kafka_ready(f"{b.host}:{b.port}")
        rows.append((b.name, f"{b.host}:{b.port}", role, "up" if up else "DOWN", ""))
    try:
        leaders = partition_leaders(settings)
    except StartupError:
        leaders = {}
    for i, node in enumerate(settings.stack.restate_nodes, start=1):
        led = sorted(p for p, n in leaders.items() if n == i)
        rows.append((f"restate-{i}", f"node :{node.node} admin :{node.admin} ingress :{node.ingress}",
                     "admin, ingress, worker, log, metadata", "up" if node_healthy(settings, i) else "DOWN",
                     f"leads partitions {', '.join(map(str, led)) or 'none'}"))
    for i, bind in enumerate(settings.stack.service_replicas, start=1):
        host, port = split_host_port(bind)
        rows.append((f"service-{i}", bind, "service replica", "up" if tcp_listening(host, port) else "DOWN",
                     f"behind HAProxy on {settings.service.bind}"))
    return ["cluster (Restate partition leaders from restatectl; Kafka's active controller from its quorum):",
            render_table(("component", "address", "role", "health", ""), rows)]


def subscriptions_section(settings: Settings) -> list[str]:
    """Per topic: its sink and subscription; then the paused invocations."""
    from switchyard.core.admin import RestateAdmin
    from switchyard.ops.paused import paused
    from switchyard.serving import current_app

    admin = RestateAdmin(settings.restate.admin_url, timeout=5)
    try:
        subs: dict[str, list[str]] = {}
        for sub in admin.subscriptions():
            subs.setdefault(sub["source"].rsplit("/", 1)[-1], []).append(sub["id"])
        stuck = paused(admin)
    finally:
        admin.close()
    lines = [f"{'topic':28} {'sink':40} subscription (of the routed topic, for topics behind the key gate)"]
    for t in current_app().catalogue().topics:
        ids = subs.get(t.subscribed_topic, [])
        direct = subs.get(t.name, []) if t.gated else []
        # A second subscription (e.g. the seed's curl) delivers every record twice: object
        # sinks skip the repeat, but it is wasted work, and on a gated topic it halts at
        # the first binary key. The bootstrap retires direct ones on gated topics.
        note = f"  ({len(ids)} subscriptions: delete extras with DELETE /subscriptions/<id>)" if len(ids) > 1 else ""
        if direct:
            note += f"  (direct subscription {', '.join(direct)} bypasses the key gate: run `switchyard bootstrap`)"
        lines.append(f"{t.name:28} {t.target:40} {', '.join(ids) or 'missing'}{note}")
    lines.append("")
    lines.append(f"paused invocations: {len(stuck)}" + ("  (continue them with `switchyard resume`)" if stuck else ""))
    lines += [f"  {invocation.line()}" for invocation in stuck[:20]]
    return lines


def metrics_section(settings: Settings) -> list[str]:
    """Per topic, what the service counted since it started (its /metrics endpoint)."""
    from switchyard.ops import service_metrics

    try:
        rows = service_metrics.summary(settings)
    except service_metrics.ServiceMetricsUnavailable as exc:
        return [f"service metrics: {exc}"]
    return ["service metrics (since the service started; docs/metrics.md):", service_metrics.render(rows)]


def deployments_section(settings: Settings) -> list[str]:
    """Each registered version: where it is served, what is in flight on it, and whether it
    is current or draining (switchyard/core/versions.py, `switchyard upgrade`)."""
    from switchyard.core.admin import RestateAdmin
    from switchyard.core.versions import base_of, version_of

    admin = RestateAdmin(settings.restate.admin_url, timeout=5)
    try:
        deployments, inflight = admin.deployments(), admin.inflight_by_deployment()
    finally:
        admin.close()
    live = str(settings.restate.deployment_url).rstrip("/")
    ordered = sorted(deployments, key=lambda d: str(d.get("created_at", "")))
    # The newest at the service's address is current (on a cluster every version shares HAProxy's).
    current = next((str(d["id"]) for d in reversed(ordered) if base_of(str(d.get("uri", ""))) == live), None)
    lines = [f"{'deployment':32} {'version':14} {'in flight':>9}  state  (address)"]
    for d in ordered:
        uri = str(d.get("uri", ""))
        count = inflight.get(str(d["id"]), 0)
        state = "current" if str(d["id"]) == current else (
            "draining" if count else "drained: `switchyard bootstrap` retires it")
        lines.append(f"{d['id']:32} {version_of(uri) or 'unversioned':14} {count:>9}  {state}  ({uri})")
    return lines


# The sections of `switchyard status`, in order; each returns its lines (none: nothing to
# show). Components come first, so a failing later section has already said what is down.
STATUS_SECTIONS = (components_section, deployments_section, subscriptions_section, metrics_section)


# -- bootstrap, serve, identity ------------------------------------------------------------


def cmd_bootstrap(settings: Settings, args: argparse.Namespace) -> int:
    from switchyard.core.bootstrap import bootstrap
    from switchyard.serving import current_app
    from switchyard.stack.paths import live_service

    for line in bootstrap(live_service(settings), current_app().catalogue()).lines():
        print(line)
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    """The Python service in the foreground: one of N replicas behind a load balancer when
    scaling out (Restate spreads invocations; the service keeps no state of its own)."""
    import os

    from switchyard.core.identity import check_exposure, service_identity_keys
    from switchyard.stack.service import service_command

    check_exposure(settings.service, service_identity_keys(settings.service))
    argv = service_command(settings)
    print(f"serving {settings.service.bind}: {' '.join(argv)}", flush=True)
    os.execv(argv[0], argv)
    return 0  # not reached


def cmd_identity(args: argparse.Namespace) -> int:
    from switchyard.core.identity import ensure_identity

    print(ensure_identity(args.dir).public_key)
    return 0
