"""`switchyard up` on a stack that already partly runs: keep what runs, start what does
not (a component whose process died, or one never started) in start order, then bootstrap.

The pid files of ``<home>/run`` say what runs (``processes.process_state``); ``decide``
turns them and the components these settings run into what to keep and what to start, so
a dead service is started again beside a running Kafka, and a dead Kafka before the
restate-server that needs it. In a local cluster a dead broker, Restate node or service
replica is started alone on its data dir and ports, its peers kept; a whole group that is
down starts as a first `up` starts it (the brokers' quorum, the Restate cluster together).
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from switchyard.core.bootstrap import BootstrapReport
from switchyard.core.poll import poll_until
from switchyard.serving import current_app
from switchyard.settings import Settings
from switchyard.simulators.provider import is_local
from switchyard.simulators.smtp import is_local as is_local_smtp
from switchyard.stack.cluster import brokers, replica_settings
from switchyard.stack.kafka import await_broker, spawn_broker
from switchyard.stack.processes import (
    Managed,
    pid_alive,
    pidfile_names,
    process_state,
    start_time,
    stop_from_pidfiles,
    wait_until,
)
from switchyard.stack.restate import node_healthy, spawn_node
from switchyard.stack.service import start_service
from switchyard.stack.stack import ORDER, Stack, in_stop_order, kind_of, settings_env

State = tuple[str, int]  # process_state's word (running, frozen, dead) and the pid file's pid (0: none)


def pid_states(run_dir: Path) -> dict[str, State]:
    """Per component with a pid file in ``run_dir``, in start order: its state and pid."""
    states = {}
    for name in reversed(in_stop_order(pidfile_names(run_dir))):
        try:
            text = (run_dir / f"{name}.pid").read_text().strip()
        except FileNotFoundError:  # a `down` removed it meanwhile
            continue
        states[name] = (process_state(text), int(text.split()[0]) if text[:1].isdigit() else 0)
    return states


def expected(settings: Settings) -> list[str]:
    """The components `up` runs for ``settings``, in start order (Stack.plan's)."""
    s = settings
    cluster = s.stack.is_cluster
    names = ([b.name for b in brokers(s)] + [f"restate-{i}" for i in range(1, len(s.stack.restate_nodes) + 1)]
             if cluster else ["kafka", "restate"])
    if is_local(s.provider):
        names.append("provider")
    if is_local_smtp(s.email):
        names.append("smtp")
    if cluster:
        names += [f"service-{i}" for i in range(1, len(s.stack.service_replicas) + 1)]
        names.append("haproxy")
    else:
        names.append("service")
    if s.streams.enabled and current_app().streams:
        names.append("streams")
    return names


@dataclass(frozen=True)
class Decision:
    """What `up` keeps and what it starts."""

    keep: dict[str, State]  # running or frozen (alive): left alone
    start: list[str]  # in start order: the dead and the never started
    dead: dict[str, int]  # those of `start` whose pid file names a process now gone: their pid

    def summary(self) -> str:
        """e.g. ``running: kafka (pid 1), ...; starting: service (was dead: pid 1234 gone)``."""
        kept = [f"{n} (pid {pid})" if state == "running" else f"{n} (FROZEN: pid {pid} is stopped; kill -CONT {pid})"
                for n, (state, pid) in self.keep.items()]
        started = [f"{n} ({self.why(n)})" for n in self.start]
        return "; ".join([f"running: {', '.join(kept) or 'nothing'}",
                          f"starting: {', '.join(started)}" if started else "nothing to start"])

    def why(self, name: str) -> str:
        if name not in self.dead:
            return "was not running"
        pid = self.dead[name]
        return f"was dead: pid {pid} gone" if pid else "was dead: its pid file names no process"


def decide(expected: list[str], states: dict[str, State]) -> Decision:
    """Keeps every live component (expected or not: nothing running is stopped), starts
    each expected one that is dead or has no pid file, in ``expected``'s order. A name
    that is a kind (the single stack's `service`) is also had by a process of that kind
    under another name (`service-<port>`, as an upgrade names the new version's)."""
    keep = {name: state for name, state in states.items() if state[0] != "dead"}
    start = [name for name in expected if not _of(name, keep)]
    dead = {}
    for name in start:
        for found in _of(name, states):
            dead[name] = states[found][1]
    return Decision(keep, start, dead)


def _of(name: str, states: dict[str, State]) -> list[str]:
    """The pid files that stand for component ``name``."""
    if name in states:
        return [name]
    return [other for other in states if kind_of(other) == name] if kind_of(name) == name else []


def up(stack: Stack) -> tuple[Decision, BootstrapReport]:
    """Brings ``stack`` (its home's pid files) up: the whole plan when nothing runs, else
    what is not running, then the bootstrap (and the stream worker after it, if started)."""
    states = pid_states(stack.run_dir)
    decision = decide(expected(stack.settings), states)
    if decision.keep:
        stack.progress(decision.summary())
    elif decision.dead:
        stack.progress(f"nothing running ({', '.join(f'{n}: {decision.why(n)}' for n in decision.dead)}); "
                       "starting the stack")
    for name, (state, _) in states.items():
        if state == "dead":  # said above; what it left is killed, and its pid file goes
            reap_leftovers(stack.run_dir / f"{name}.pid", stack.progress)
            (stack.run_dir / f"{name}.pid").unlink(missing_ok=True)
    return decision, start_some(stack, decision.start) if decision.keep else stack.start()


def reap_leftovers(pidfile: Path, progress: Callable[[str], None], timeout: float = 10.0) -> None:
    """A dead component's process group may outlive its leader (the service's worker
    processes hold its port): SIGKILL what is left. Only while the group is still the
    component's: its leader gone (a pid in use as a group id is not handed out again) or
    a zombie of the recorded start time; never a reused pid's."""
    parts = pidfile.read_text().split() if pidfile.exists() else []
    if not parts or not parts[0].isdigit():
        return
    pid = int(parts[0])
    if pid_alive(pid) and (len(parts) < 2 or start_time(pid) != parts[1]):
        return
    left = group_members(pid)
    if not left:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    # Gone before the component starts again: a dying worker still holds the port.
    with contextlib.suppress(TimeoutError):
        poll_until(lambda: not group_members(pid), timeout, 0.05, f"process group {pid} to exit")
    still = group_members(pid)
    progress(f"{pidfile.stem}: killed what was left of its process group {pid} (pids {', '.join(map(str, left))})"
             + (f"; still there after {timeout:.0f}s: {', '.join(map(str, still))}" if still else ""))


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group ``pgid``, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()  # state, ppid, pgrp, ...
        if fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return sorted(members)


def start_some(stack: Stack, names: list[str]) -> BootstrapReport:
    """Starts ``names`` (components of ``stack``, in start order), bootstraps before the
    stream worker; on a failure stops what it started (what was running keeps running)."""
    stack.request_identity()  # the service started alone still gets Restate's public key
    steps = plan_for(stack, names)
    report: BootstrapReport | None = None
    try:
        for n, step in enumerate(steps, start=1):
            outcome = step(n, len(steps))
            if isinstance(outcome, BootstrapReport):
                report = outcome
    except BaseException:
        # What this run started, by its handles and by the pid files of `names` (a group's
        # step registers its members only once all are up); not what it found running.
        for name in in_stop_order(list(stack.components)):
            stack.components.pop(name).stop()
        stop_from_pidfiles(stack.run_dir, in_stop_order(names))
        raise
    assert report is not None, "no bootstrap step"
    return report


Step = Callable[[int, int], object]


def plan_for(stack: Stack, names: list[str]) -> list[Step]:
    """Stack.plan's steps for ``names`` only: a whole kind by its own step, a few members
    of a cluster's group each on its own."""
    cluster = stack.settings.stack.is_cluster
    steps: list[Step] = []
    for kind in ORDER:
        if kind == "streams":
            steps.append(stack.bootstrap)
        members = [n for n in names if kind_of(n) == kind]
        if not members:
            continue
        if not (cluster and kind in GROUPS):
            steps.append(getattr(stack, f"start_{kind}"))
        elif len(members) < len([n for n in expected(stack.settings) if kind_of(n) == kind]):
            steps.append(functools.partial(MEMBERS[kind], stack, members))
        else:  # the whole group, as a first `up` starts it
            steps.append(getattr(stack, GROUPS[kind]))
    return steps


# A cluster's kinds of several members, and the Stack step that starts all of them.
GROUPS = {"kafka": "start_kafka_cluster", "restate": "start_restate_cluster", "service": "start_replicas"}


def _started(stack: Stack, n: int, total: int, label: str, start: Callable[[], list[Managed]]) -> None:
    began = time.monotonic()
    stack.progress(f"[{n}/{total}] {label} ...")
    for managed in start():
        stack.components[managed.name] = managed
        stack.progress(f"[{n}/{total}] {managed.name} ready in {time.monotonic() - began:.1f}s (log {managed.log})")


def _brokers(stack: Stack, names: list[str], n: int, total: int) -> None:
    """Some brokers of the quorum, spawned together (two down need each other to vote) on their data dirs."""
    s = stack.settings
    every = brokers(s)
    voters = [b.voter for b in every]
    nodes = [b for b in every if b.name in names]

    def start() -> list[Managed]:
        spawned = []
        for node in nodes:
            spawned.append(spawn_broker(stack.home, node, voters, s.kafka.topic_partitions))
        for managed, node in zip(spawned, nodes, strict=True):
            await_broker(managed, node, s.stack.start_timeout.total_seconds())
        return spawned

    _started(stack, n, total, f"Kafka brokers {', '.join(names)} (the rest of the quorum runs)", start)


def _nodes(stack: Stack, names: list[str], n: int, total: int) -> None:
    """Some Restate nodes of the provisioned cluster, spawned together, then each healthy."""
    s = stack.settings
    key = stack.request_identity()
    indexes = [int(name.split("-")[1]) for name in names]

    def start() -> list[Managed]:
        spawned = []
        for i in indexes:
            spawned.append(spawn_node(s, stack.home, i, key))
        for i, managed in zip(indexes, spawned, strict=True):
            wait_until(managed, f"Restate node {i}", functools.partial(node_healthy, s, i),
                       s.stack.start_timeout.total_seconds())
        return spawned

    _started(stack, n, total, f"Restate nodes {', '.join(names)} (the rest of the cluster runs)", start)


def _replicas(stack: Stack, names: list[str], n: int, total: int) -> None:
    s = stack.settings

    def start() -> list[Managed]:
        started = []
        for name in names:
            replica = replica_settings(s, s.stack.service_replicas[int(name.split("-")[1]) - 1])
            managed, _ = start_service(replica, stack.home, settings_env(replica),
                                       s.stack.start_timeout.total_seconds(), name)
            started.append(managed)
        return started

    _started(stack, n, total, f"service replicas {', '.join(names)} (HTTP/2, behind HAProxy)", start)


MEMBERS: dict[str, Callable[[Stack, list[str], int, int], None]] = {
    "kafka": _brokers, "restate": _nodes, "service": _replicas,
}
