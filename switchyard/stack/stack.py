"""The whole stack as small steps that the CLI and the integration fixtures share."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import json
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from pydantic import BaseModel, SecretStr
from rich.console import Console
from rich.text import Text

from switchyard.core.admin import ComponentDown, DeploymentConflict, RestateAdmin
from switchyard.core.bootstrap import BootstrapReport, bootstrap, served_version
from switchyard.core.identity import ensure_identity
from switchyard.core.poll import poll_until
from switchyard.core.settings import split_host_port
from switchyard.core.versions import versioned_url
from switchyard.ops.upgrade import UpgradeRefused, UpgradeReport, roll
from switchyard.serving import current_app
from switchyard.settings import Settings
from switchyard.simulators.provider import is_local
from switchyard.simulators.smtp import is_local as is_local_smtp
from switchyard.stack.cluster import brokers, replica_settings
from switchyard.stack.containers import start_kafka_container, start_restate_container
from switchyard.stack.ephemeral import free_ports
from switchyard.stack.haproxy import Master, Route, reload_haproxy, start_haproxy
from switchyard.stack.kafka import BrokerSpec, await_broker, spawn_broker, start_broker
from switchyard.stack.paths import REPLICAS_FILE, SERVICE_BIND_FILE
from switchyard.stack.processes import Managed, StartupError, pidfile_names, stop_from_pidfiles, wait_until
from switchyard.stack.restate import all_partitions_led, node_healthy, provision, spawn_node, start_restate
from switchyard.stack.secure import (
    SERVICE,
    STREAMS,
    SecureKafka,
    acl_bindings,
    create_acls,
    ensure_material,
    is_secured,
)
from switchyard.stack.service import await_service, spawn_service, start_service
from switchyard.stack.simulators import start_provider, start_smtp
from switchyard.stack.streams import start_streams

Progress = Callable[[str], None]


class Component(Protocol):
    name: str
    log: Path

    def stop(self, timeout: float = 15.0) -> None: ...

    def kill(self) -> None: ...

    def signal(self, sig: int) -> None: ...


def _timed(start: Callable[[], Component]) -> tuple[Component, float]:
    began = time.monotonic()
    component = start()
    return component, time.monotonic() - began


# Start order by kind; a cluster's components are `kafka-1`, `restate-2`, `service-1`, ...
ORDER = ("kafka", "restate", "provider", "smtp", "service", "haproxy", "streams")


def kind_of(name: str) -> str:
    return name.split("-")[0]


def in_stop_order(names: list[str]) -> list[str]:
    """Last started first: streams, HAProxy, the service, ..., Kafka."""
    return sorted(names, key=lambda n: (ORDER.index(kind_of(n)) if kind_of(n) in ORDER else -1, n), reverse=True)


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as SWITCHYARD_* variables, so child processes see exactly these
    (secrets included: they go to our own children's environment, never to logs)."""
    dumped = settings.model_dump(mode="json")
    _reveal(settings, dumped)
    return {f"SWITCHYARD_{section.upper()}": json.dumps(value) for section, value in dumped.items()}


def _reveal(model: BaseModel, dumped: dict[str, Any]) -> None:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            dumped[name] = value.get_secret_value()
        elif isinstance(value, BaseModel):
            _reveal(value, dumped[name])


@dataclass
class ReplicaGroup:
    """One version's service replicas on a cluster: their component names and addresses."""

    version: str
    names: list[str]
    binds: list[str]

    @property
    def route(self) -> Route:
        return self.version, self.binds


def _serves_through(url: str, version: str) -> bool:
    """A new connection to ``url`` (HAProxy) reaches a process of ``version``."""
    try:
        return served_version(url, timeout=5) == version
    except ComponentDown:
        return False


class Stack:
    """Kafka, Restate and the service on this machine, started in order and stopped in reverse."""

    def __init__(
        self, settings: Settings, home: Path, progress: Progress = print, use_containers: bool = False,
        live: bool | None = None,
    ) -> None:
        self.settings = settings
        self.home = home.resolve()
        self.progress = progress
        self.use_containers = use_containers  # Kafka and Restate from images (testcontainers)
        self.components: dict[str, Component] = {}
        # How to start each component again on its data dir, ports and settings (the fault suite's lever).
        self.restarters: dict[str, Callable[[], None]] = {}
        # On a cluster amid a rolling upgrade (one left draining past its timeout): each
        # version's replicas, oldest first, as HAProxy routes them. Empty: the replicas of
        # the settings, one version (`service-1`, ... on `stack.service_replicas`).
        self.replica_groups: list[ReplicaGroup] = []
        # A spinner while each step waits, in place of its "..." line: only when the lines
        # go to a terminal (the default `print` on a TTY); logs and CI get the plain lines.
        self.live = progress is print and sys.stdout.isatty() if live is None else live
        # A secured broker (switchyard/stack/secure.py): every client of the stack then
        # connects as the service's principal, the stream worker as its own.
        self.secured: SecureKafka | None = None
        if settings.stack.secure or is_secured(self.home):
            if settings.stack.is_cluster or use_containers:
                raise StartupError("a secured stack runs one native broker: not with --cluster or containers")
            if not is_secured(self.home) and (self.home / "kafka" / "logs" / "meta.properties").exists():
                raise StartupError(f"the stack in {self.home} was made without --secure (its broker has no SCRAM "
                                   f"users): `switchyard reset` first, or use another stack.home")
            self.secured = ensure_material(self.home, [settings.kafka_address[0]])
            self.settings = settings.model_copy(update={"kafka": self.secured.kafka_settings(settings.kafka, SERVICE)})

    def _waiting(self, line: str) -> contextlib.AbstractContextManager[object]:
        if self.live:
            return Console().status(Text(line))
        self.progress(line)
        return contextlib.nullcontext()

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    def _step(self, n: int, total: int, label: str, action: Callable[[], tuple[Component, float]]) -> None:
        with self._waiting(f"[{n}/{total}] {label} ..."):
            managed, took = action()
        self.components[managed.name] = managed
        self.progress(f"[{n}/{total}] {label} ready in {took:.1f}s (log {managed.log})")

    def _group(self, n: int, total: int, label: str, start: Callable[[], list[Component]]) -> None:
        """Several processes of one kind started together (a quorum needs its peers to come up)."""
        began = time.monotonic()
        with self._waiting(f"[{n}/{total}] {label} ..."):
            started = start()
        for managed in started:
            self.components[managed.name] = managed
        logs = ", ".join(str(m.log) for m in started)
        self.progress(f"[{n}/{total}] {label} ready in {time.monotonic() - began:.1f}s (logs {logs})")

    def plan(self) -> list[Callable[[int, int], object]]:
        """The start-up steps in order; each takes its position and the total for progress lines.
        Add a component by adding its `start_<name>` method here (and its name to ORDER)."""
        if self.settings.stack.is_cluster:
            return [self.start_kafka_cluster, self.start_restate_cluster, self.start_provider, self.start_smtp,
                    self.start_replicas, self.start_haproxy, self.bootstrap, self.start_streams]
        return [self.start_kafka, self.start_restate, self.start_provider, self.start_smtp, self.start_service,
                self.bootstrap, self.start_streams]

    # -- a cluster on this machine (switchyard/stack/cluster.py) -------------------------------

    def start_kafka_cluster(self, n: int = 1, total: int = 1) -> None:
        s = self.settings
        nodes = brokers(s)
        voters = [node.voter for node in nodes]
        timeout = s.stack.start_timeout.total_seconds()

        def start() -> list[Component]:
            spawned = [spawn_broker(self.home, node, voters, s.kafka.topic_partitions) for node in nodes]
            for managed, node in zip(spawned, nodes, strict=True):
                await_broker(managed, node, timeout)
            return list(spawned)

        for node in nodes:
            self.restarters[node.name] = functools.partial(self._restart_broker, node, voters)
        self._group(n, total, f"Kafka cluster: {len(nodes)} KRaft brokers+controllers on {s.kafka.bootstrap_servers}",
                    start)

    def _restart_broker(self, node: BrokerSpec, voters: list[str]) -> None:
        s = self.settings
        managed = spawn_broker(self.home, node, voters, s.kafka.topic_partitions)
        self.components[node.name] = managed
        await_broker(managed, node, s.stack.start_timeout.total_seconds())

    def start_restate_cluster(self, n: int = 2, total: int = 2) -> None:
        s = self.settings
        key = self.request_identity()
        count = len(s.stack.restate_nodes)
        timeout = s.stack.start_timeout.total_seconds()

        def start() -> list[Component]:
            spawned = [spawn_node(s, self.home, i, key) for i in range(1, count + 1)]
            provision(s, timeout)
            for i, managed in enumerate(spawned, start=1):
                wait_until(managed, f"Restate node {i}", functools.partial(node_healthy, s, i), timeout)
            # /health answers before the partitions have leaders: wait for every one.
            wait_until(spawned[0], f"leaders for all {s.stack.restate_partitions} partitions",
                       functools.partial(all_partitions_led, s), timeout, interval=0.5)
            return list(spawned)

        for i in range(1, count + 1):
            self.restarters[f"restate-{i}"] = functools.partial(self._restart_node, i, key)
        self._group(n, total, f"Restate cluster: {count} nodes (replicated metadata and log, replication "
                              f"{s.stack.restate_replication})", start)

    def _restart_node(self, index: int, key: Path | None) -> None:
        s = self.settings
        managed = spawn_node(s, self.home, index, key)
        self.components[managed.name] = managed
        wait_until(managed, f"Restate node {index}", functools.partial(node_healthy, s, index),
                   s.stack.start_timeout.total_seconds())

    def start_replicas(self, n: int = 5, total: int = 5) -> None:
        s = self.settings
        timeout = s.stack.start_timeout.total_seconds()
        for i, bind in enumerate(s.stack.service_replicas, start=1):
            replica = replica_settings(s, bind)
            name = f"service-{i}"

            def start(replica: Settings = replica, name: str = name) -> tuple[Component, float]:
                return start_service(replica, self.home, settings_env(replica), timeout, name)

            self.restarters[name] = functools.partial(self._restart, name, start)
            self._step(n, total, f"service replica {i} ({s.service.server}, HTTP/2) on {bind}", start)

    def start_haproxy(self, n: int = 6, total: int = 6) -> None:
        s = self.settings
        what = f"HAProxy: service replicas on {s.service.bind} (h2)"
        if s.stack.restate_nodes:
            what += f", Restate ingress {s.restate.ingress_url} and admin {s.restate.admin_url} over every node"
        routes = [g.route for g in self.replica_groups]
        self._step(n, total, what, lambda: start_haproxy(s, self.home, s.stack.start_timeout.total_seconds(), routes))

    def _restart(self, name: str, start: Callable[[], tuple[Component, float]]) -> None:
        managed, _ = start()
        self.components[name] = managed

    def start_kafka(self, n: int = 1, total: int = 4) -> None:
        s = self.settings
        host, port = s.kafka_address
        if self.use_containers:
            timeout = s.stack.start_timeout.total_seconds()
            self._step(n, total, f"Kafka broker (container) on {host}:{port}",
                       lambda: _timed(lambda: start_kafka_container(s, self.home, timeout)))
            return
        if self.secured is not None:
            self._step(n, total, f"Kafka broker (KRaft, SASL_SSL with ACLs) on {host}:{port}", self._secure_broker)
            return
        self._step(n, total, f"Kafka broker (KRaft) on {host}:{port}", lambda: start_broker(
            self.home, host, port, s.stack.kafka_controller_port, s.kafka.topic_partitions,
            s.stack.start_timeout.total_seconds(),
        ))

    def _secure_broker(self) -> tuple[Component, float]:
        """The broker with TLS, SCRAM users and ACLs; the principals' client files beside them."""
        s, secured = self.settings, self.secured
        assert secured is not None
        host, port = s.kafka_address
        controller = s.stack.kafka_controller_port
        broker, took = start_broker(
            self.home, host, port, controller, s.kafka.topic_partitions, s.stack.start_timeout.total_seconds(),
            secured.broker_properties(host, port, controller), secured.format_args(), s.kafka.client_config())
        create_acls(s.kafka.bootstrap_servers, secured, acl_bindings(current_app().catalogue(), s.streams.app_id))
        secured.write_client_files(s.kafka.bootstrap_servers)
        return broker, took

    def request_identity(self) -> Path | None:
        """The key restate-server signs with; its public half becomes the service's
        identity key, so the service refuses calls that did not come through Restate."""
        if not self.settings.stack.request_identity:
            return None
        identity = ensure_identity(self.home / "identity")
        keys = self.settings.service.identity_keys
        if identity.public_key not in keys:
            self.settings.service.identity_keys = [*keys, identity.public_key]
        return identity.private_key_file

    def start_restate(self, n: int = 2, total: int = 4) -> None:
        s = self.settings
        key = self.request_identity()
        if self.use_containers:
            timeout = s.stack.start_timeout.total_seconds()
            self._step(n, total, f"restate-server (container, admin {s.restate.admin_url})",
                       lambda: _timed(lambda: start_restate_container(s, self.home, timeout, key)))
            return
        self._step(n, total, f"restate-server (admin {s.restate.admin_url}, ingress {s.restate.ingress_url})",
                   lambda: start_restate(s, self.home, s.stack.start_timeout.total_seconds(), key))

    def start_provider(self, n: int = 3, total: int = 5) -> None:
        """The payment provider simulator, unless the settings name a real provider."""
        s = self.settings
        if not is_local(s.provider):
            self.progress(f"[{n}/{total}] payment provider: the real one at {s.provider.api_base}")
            return
        self._step(n, total, f"payment provider simulator on {s.provider.api_base}",
                   lambda: start_provider(s, self.home, s.stack.start_timeout.total_seconds()))

    def start_smtp(self, n: int = 4, total: int = 6) -> None:
        """The local SMTP sink (mail lands in home/mail/), unless the settings name a real server."""
        s = self.settings
        if not is_local_smtp(s.email):
            self.progress(f"[{n}/{total}] SMTP: the real server at {s.email.smtp_host}:{s.email.smtp_port}")
            return
        self._step(n, total, f"SMTP sink on {s.email.smtp_host}:{s.email.smtp_port} (mail to {self.home / 'mail'})",
                   lambda: start_smtp(s, self.home, s.stack.start_timeout.total_seconds()))

    def start_service(self, n: int = 3, total: int = 4) -> None:
        s = self.settings
        self._step(n, total, f"Python service ({s.service.server}, HTTP/2) on {s.service.bind}",
                   lambda: start_service(s, self.home, settings_env(s), s.stack.start_timeout.total_seconds()))

    def start_streams(self, n: int = 7, total: int = 7) -> None:
        """The app's stream worker (the examples': Faust, streams/): after the bootstrap, which
        creates the topics it reads and writes."""
        s, module = self.settings, current_app().streams
        if not s.streams.enabled or module is None:
            why = "streams.enabled = false" if module else "the app has none"
            self.progress(f"[{n}/{total}] stream workers: disabled ({why})")
            return
        if self.secured is not None:  # as its own principal
            s = s.model_copy(update={"kafka": self.secured.kafka_settings(s.kafka, STREAMS)})
        self._step(n, total, f"stream workers ({module}, web http://{s.streams.web_bind}/pipeline/)",
                   lambda: start_streams(s, module, self.home, settings_env(s), s.stack.start_timeout.total_seconds()))

    def bootstrap(self, n: int = 4, total: int = 4) -> BootstrapReport:
        start = time.monotonic()
        with self._waiting(f"[{n}/{total}] bootstrap: topics, Kafka cluster, deployment, subscriptions ..."):
            report = bootstrap(self.settings, current_app().catalogue())
        for line in report.lines():
            self.progress(f"      {line}")
        self.progress(f"[{n}/{total}] bootstrap done in {time.monotonic() - start:.1f}s")
        return report

    def __enter__(self) -> Stack:
        """``with Stack(...) as running:`` starts it, and stops it on the way out."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> BootstrapReport:
        steps = self.plan()
        report: BootstrapReport | None = None
        try:
            for n, step in enumerate(steps, start=1):
                outcome = step(n, len(steps))
                if isinstance(outcome, BootstrapReport):
                    report = outcome
            assert report is not None, "the plan has no bootstrap step"
            return report
        except BaseException:
            self.stop()
            raise

    def crash(self, name: str) -> None:
        """kill -9 one component, as a crash would (the fault suite's lever)."""
        self.components.pop(name).kill()

    def freeze(self, name: str) -> None:
        """SIGSTOP one component: alive but silent, as a stalled VM or a long GC pause is."""
        self.components[name].signal(signal.SIGSTOP)

    def thaw(self, name: str) -> None:
        self.components[name].signal(signal.SIGCONT)

    def restart(self, name: str) -> None:
        """Start a crashed component again on its data dir, ports and settings."""
        if name in self.restarters:
            self.restarters[name]()
            return
        start: Callable[[int, int], object] = getattr(self, f"start_{name}")
        start(1, 1)

    # -- rolling upgrade (switchyard/ops/upgrade.py) -------------------------------------------

    def service_name(self) -> str:
        """The running service process's component name (`service`, or `service-<port>`
        after an upgrade)."""
        names = [n for n in self.components if kind_of(n) == "service"]
        if len(names) != 1:
            raise UpgradeRefused(f"an upgrade needs one service process, this stack has {names or 'none'}")
        return names[0]

    def upgrade(self, adjust: Callable[[Any], None] | None = None, drain_timeout: float = 3600.0,
                port: int | None = None) -> UpgradeReport:
        """Starts the service's new version beside the running one (on ``port``, or a free
        one), registers it, waits until the old version has nothing in flight, unregisters
        it and stops its process. ``adjust`` changes the new process's settings (its
        version, a drill's changed handler). The stack then runs the new version only.
        On a cluster: `upgrade_cluster` (``port`` then is the first new replica's)."""
        if self.settings.stack.is_cluster:
            return self.upgrade_cluster(adjust, drain_timeout, [port] if port else None)
        old = self.settings
        host, _ = old.service.address
        port = port or free_ports(1)[0]
        new = old.model_copy(update={
            "service": old.service.model_copy(update={"bind": f"{host}:{port}"}),
            "restate": old.restate.model_copy(update={"deployment_url": f"http://{host}:{port}"}),
        }, deep=True)
        if adjust is not None:
            adjust(new)
        old_name, name = self.service_name(), f"service-{port}"
        timeout = new.stack.start_timeout.total_seconds()

        def start() -> tuple[Component, float]:
            return start_service(new, self.home, settings_env(new), timeout, name)

        self._step(1, 3, f"new version of the service on {new.service.bind}", start)
        admin = RestateAdmin(old.restate.admin_url)
        try:
            with self._waiting(f"[2/3] registering it and draining the version on {old.service.bind} ..."):
                report = roll(admin, old.restate.deployment_url, new.restate.deployment_url,
                              drain_timeout=drain_timeout, progress=self.progress)
        except UpgradeRefused as refused:
            if "nothing to roll" in str(refused):
                self.components.pop(name).stop()
            raise
        finally:
            admin.close()
        self.components.pop(old_name).stop()
        self.restarters.pop(old_name, None)
        self.restarters[name] = functools.partial(self._restart, name, start)
        self.settings = new
        (self.run_dir / SERVICE_BIND_FILE).write_text(new.service.bind)
        self.progress(f"[3/3] version {report.old_version} retired; {name} serves version {report.new_version}")
        return report

    def _groups(self) -> list[ReplicaGroup]:
        """The replica groups running now, oldest first (each asked its version at rest)."""
        if self.replica_groups:
            return list(self.replica_groups)
        binds = list(self.settings.stack.service_replicas)
        versions = {served_version(f"http://{bind}") for bind in binds}
        if len(versions) != 1 or "" in versions:
            raise UpgradeRefused(f"the replicas at {', '.join(binds)} do not run one version (GET /version: "
                                 f"{', '.join(sorted(versions)) or 'none'}): nothing to roll from")
        return [ReplicaGroup(versions.pop(), [f"service-{i}" for i in range(1, len(binds) + 1)], binds)]

    def upgrade_cluster(self, adjust: Callable[[Any], None] | None = None, drain_timeout: float = 3600.0,
                        ports: list[int] | None = None) -> UpgradeReport:
        """A rolling upgrade behind HAProxy, whose address is the one deployment URL of
        every version: the new version's replicas start beside the old (as many, each on
        ``ports`` or a free port), HAProxy is reloaded to route each version's path to its
        own replicas and everything else to the newest, the new version is registered at
        HAProxy's address, the old drains and is unregistered, then HAProxy drops its
        backend (reloaded again) and its replicas stop. The new replicas then take the
        names `service-1`, ... and `stack.service_replicas` their addresses. Past
        ``drain_timeout`` both versions keep serving (and routed): a later upgrade drains
        every older one."""
        old = self.settings
        if "haproxy" not in self.components:
            raise UpgradeRefused("HAProxy is not running: the cluster's upgrade routes each version through it "
                                 "(`switchyard up --cluster` starts it again)")
        olds = self._groups()
        count = len(old.stack.service_replicas)
        given = list(ports or [])
        fresh = iter(free_ports(count))
        binds = [f"{split_host_port(bind)[0] or '127.0.0.1'}:{given[i] if i < len(given) else next(fresh)}"
                 for i, bind in enumerate(old.stack.service_replicas)]
        new = old.model_copy(update={"stack": old.stack.model_copy(update={"service_replicas": binds})}, deep=True)
        if adjust is not None:
            adjust(new)
        timeout = new.stack.start_timeout.total_seconds()
        url = str(old.restate.deployment_url)
        # Named by version while both run (service-<version>-<i>); service-<i> once the old is gone.
        starting = f"service-{new.service.version or 'new'}"
        started: list[Managed] = []

        def starter(bind: str, name: str) -> Callable[[], tuple[Component, float]]:
            replica = replica_settings(new, bind)
            return lambda: start_service(replica, self.home, settings_env(replica), timeout, name)

        admin = RestateAdmin(old.restate.admin_url)
        routed = False
        try:
            def start_all() -> list[Component]:  # together: each takes seconds to import the handlers
                for i, bind in enumerate(binds, start=1):
                    replica = replica_settings(new, bind)
                    started.append(spawn_service(replica, self.home, settings_env(replica), f"{starting}-{i}"))
                for managed, bind in zip(started, binds, strict=True):
                    await_service(managed, replica_settings(new, bind), timeout)
                return list(started)

            self._group(1, 4, f"the new version's {count} replicas on {', '.join(binds)}", start_all)
            version = served_version(f"http://{binds[0]}")
            if version in {g.version for g in olds}:
                raise UpgradeRefused(f"the new replicas run version {version}, as running ones do: nothing to roll "
                                     f"out (a code change, or SWITCHYARD_SERVICE__VERSION, makes a new version)")
            group = ReplicaGroup(version, [m.name for m in started], binds)
            routed = True
            self._route(new, [*olds, group], f"[2/4] HAProxy: /v/{version}/ and every unversioned path to the new "
                                             f"replicas, each older version's path to its own")
            # Routed once a new connection through HAProxy reaches the new version; its
            # registration (Restate's discovery) is tried again while an old worker answers.
            poll_until(functools.partial(_serves_through, url, version), timeout, 0.2,
                       f"HAProxy to route to version {version}")
            self._register(admin, versioned_url(url, version), timeout)
        except BaseException:
            # Nothing is pinned to the new version yet: back to the old alone.
            if routed:
                with contextlib.suppress(Exception):
                    self._route(old, olds, "HAProxy: back to the running version(s)")
            for managed in started:
                self.components.pop(managed.name, None)
                managed.stop()
            admin.close()
            raise
        # From here both versions serve; past the drain timeout both keep serving, routed
        # (and recorded, so a later `switchyard upgrade` finds and drains them).
        self.replica_groups = [*olds, group]
        self._record_replicas(self.replica_groups)
        try:
            with self._waiting(f"[3/4] version {version} registered at {url}; draining "
                               f"{', '.join(g.version for g in olds)} ..."):
                report = roll(admin, url, url, drain_timeout=drain_timeout, progress=self.progress,
                              old_version=olds[-1].version, new_version=version)
        finally:
            admin.close()
        # Drained and unregistered: HAProxy forgets the old versions, then their replicas stop.
        self._route(new, [group], f"[4/4] HAProxy: every path to version {version}")
        retiring = [self.components.pop(name) for g in olds for name in g.names if name in self.components]
        with ThreadPoolExecutor(max(1, len(retiring))) as pool:  # each takes seconds (its key gate leaves)
            list(pool.map(lambda replica: replica.stop(), retiring))
        for g in olds:
            for name in g.names:
                self.restarters.pop(name, None)
                log = self.run_dir / f"{name}.log"
                if log.exists():
                    log.rename(self.run_dir / f"service-{g.version}-{name.rsplit('-', 1)[1]}.log")
        for i, (managed, bind) in enumerate(zip(started, binds, strict=True), start=1):
            self._rename(managed, f"service-{i}")
            self.restarters[f"service-{i}"] = functools.partial(self._restart, f"service-{i}",
                                                                starter(bind, f"service-{i}"))
        self.replica_groups = []
        self._record_replicas([ReplicaGroup(version, [f"service-{i}" for i in range(1, len(binds) + 1)], binds)])
        self.settings = new
        self.progress(f"[4/4] version {', '.join(g.version for g in olds)} retired; service-1..{len(binds)} "
                      f"on {', '.join(binds)} serve version {version}")
        return report

    def _record_replicas(self, groups: list[ReplicaGroup]) -> None:
        """Where each version's replicas run, for later commands (paths.live_service)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / REPLICAS_FILE).write_text(json.dumps([dataclasses.asdict(g) for g in groups], indent=1))

    def _route(self, settings: Settings, groups: list[ReplicaGroup], line: str) -> None:
        master = cast(Master, self.components["haproxy"])
        with self._waiting(f"{line} ..."):
            took = reload_haproxy(master, settings, self.home, settings.stack.start_timeout.total_seconds(),
                                  [g.route for g in groups])
        self.progress(f"{line}: reloaded in {took:.1f}s")

    def _register(self, admin: RestateAdmin, deployment: str, timeout: float) -> None:
        """Registers ``deployment`` (through HAProxy), tried again while Restate's discovery
        reaches an old HAProxy worker (its old version's 404)."""
        began = time.monotonic()
        while True:
            try:
                admin.register_deployment(deployment)
                return
            except DeploymentConflict:
                raise
            except RuntimeError:
                if time.monotonic() - began > timeout:
                    raise
                time.sleep(0.5)

    def _rename(self, managed: Managed, name: str) -> None:
        """A running replica under another component name: its pid file and log moved."""
        pidfile, log = self.run_dir / f"{name}.pid", self.run_dir / f"{name}.log"
        managed.pidfile.replace(pidfile)
        if managed.log.exists():
            managed.log.replace(log)
        self.components.pop(managed.name)
        self.components[name] = Managed(name, managed.process, log, pidfile)

    def stop(self) -> None:
        """Stops one kind after another, last started first, and the members of a kind (a
        cluster's brokers, its Restate nodes, its replicas) together: one by one, the last
        of three brokers waits out its controlled shutdown alone, about 15 s per node."""
        names = in_stop_order(list(self.components))
        for _, group in itertools.groupby(names, kind_of):
            members = [self.components.pop(name) for name in group]
            with ThreadPoolExecutor(max_workers=len(members)) as pool:
                list(pool.map(lambda member: member.stop(), members))
        stop_from_pidfiles(self.run_dir, in_stop_order(pidfile_names(self.run_dir)))
