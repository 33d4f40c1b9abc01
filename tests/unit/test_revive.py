"""`switchyard up` on a stack that partly runs (issue 25): it starts what is dead or was
never started, in start order, keeps what runs, and bootstraps."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from switchyard.core.poll import poll_until
from switchyard.stack.ephemeral import ephemeral_cluster_settings, ephemeral_settings
from switchyard.stack.processes import Managed, spawn, start_time
from switchyard.stack.restate import PROVISIONED_BEFORE
from switchyard.stack.revive import (
    State,
    decide,
    expected,
    group_members,
    pid_states,
    plan_for,
    reap_leftovers,
)
from switchyard.stack.stack import Stack, kind_of

SINGLE = ["kafka", "restate", "provider", "smtp", "service", "streams"]


def states(**named: str) -> dict[str, State]:
    """``service="dead:1234"`` -> {"service": ("dead", 1234)}."""
    return {name: (text.split(":")[0], int(text.split(":")[1])) for name, text in named.items()}


def running_but(**named: str) -> dict[str, State]:
    found = {name: ("running", 100 + i) for i, name in enumerate(SINGLE)}
    found.update(states(**named))
    return {name: found[name] for name in SINGLE if name in found}


def test_a_dead_service_is_started_and_the_rest_kept() -> None:
    decision = decide(SINGLE, running_but(service="dead:1234"))
    assert decision.start == ["service"]
    assert decision.dead == {"service": 1234}
    assert list(decision.keep) == ["kafka", "restate", "provider", "smtp", "streams"]
    assert decision.summary() == ("running: kafka (pid 100), restate (pid 101), provider (pid 102), smtp (pid 103), "
                                  "streams (pid 105); starting: service (was dead: pid 1234 gone)")


def test_dead_and_missing_components_start_in_start_order() -> None:
    found = running_but(kafka="dead:7", restate="dead:8")
    del found["service"]  # no pid file: never started, or removed
    decision = decide(SINGLE, found)
    assert decision.start == ["kafka", "restate", "service"]
    assert decision.dead == {"kafka": 7, "restate": 8}
    assert decision.summary().endswith("starting: kafka (was dead: pid 7 gone), restate (was dead: pid 8 gone), "
                                       "service (was not running)")


def test_all_running_starts_nothing() -> None:
    decision = decide(SINGLE, running_but())
    assert decision.start == []
    assert decision.summary().endswith("; nothing to start")


def test_nothing_running_starts_everything() -> None:
    assert decide(SINGLE, {}).start == SINGLE
    every_dead = decide(SINGLE, {name: ("dead", 0) for name in SINGLE})
    assert every_dead.start == SINGLE
    assert not every_dead.keep
    assert every_dead.why("kafka") == "was dead: its pid file names no process"


def test_a_frozen_component_is_kept_and_said_to_be_frozen() -> None:
    decision = decide(SINGLE, running_but(restate="frozen:55"))
    assert decision.start == []
    assert "restate (FROZEN: pid 55 is stopped; kill -CONT 55)" in decision.summary()


def test_a_live_component_is_never_stopped_nor_started_twice() -> None:
    # streams runs though these settings no longer run it; an upgraded service runs as service-<port>.
    found = running_but()
    del found["service"]
    found["service-9123"] = ("running", 300)
    decision = decide([n for n in SINGLE if n != "streams"], found)
    assert decision.start == []
    assert {"streams", "service-9123"} <= set(decision.keep)
    # ... and when that one died, `service` is started, and why is said.
    found["service-9123"] = ("dead", 300)
    decision = decide(SINGLE, found)
    assert decision.start == ["service"]
    assert decision.dead == {"service": 300}


def test_a_dead_cluster_member_is_started_alone() -> None:
    names = ["kafka-1", "kafka-2", "kafka-3", "restate-1", "restate-2", "restate-3", "provider", "smtp",
             "service-1", "service-2", "haproxy", "streams"]
    found: dict[str, State] = {name: ("running", i) for i, name in enumerate(names, start=1)}
    found["kafka-2"] = ("dead", 2)
    found["service-1"] = ("dead", 9)
    decision = decide(names, found)
    assert decision.start == ["kafka-2", "service-1"]


def test_expected_follows_the_settings(tmp_path: Path) -> None:
    assert expected(ephemeral_settings(tmp_path, read_env_file=False)) == SINGLE
    real = {"api_base": "https://api.stripe.com", "secret_key": "sk_test_x", "webhook_secret": "whsec_x"}
    fewer = ephemeral_settings(tmp_path, read_env_file=False, streams={"enabled": False}, provider=real,
                               email={"smtp_host": "smtp.example.com"})
    assert expected(fewer) == ["kafka", "restate", "service"]
    assert expected(ephemeral_cluster_settings(tmp_path, read_env_file=False)) == [
        "kafka-1", "kafka-2", "kafka-3", "restate-1", "restate-2", "restate-3", "provider", "smtp",
        "service-1", "service-2", "haproxy", "streams"]


def step_names(steps: list[Callable[[int, int], object]]) -> list[str]:
    return [f"{s.func.__name__}{s.args[1:]}" if isinstance(s, functools.partial) else s.__name__ for s in steps]


def test_the_plan_starts_only_those_then_bootstraps_before_the_stream_worker(tmp_path: Path) -> None:
    stack = Stack(ephemeral_settings(tmp_path, read_env_file=False), tmp_path, progress=lambda _: None)
    assert step_names(plan_for(stack, ["service"])) == ["start_service", "bootstrap"]
    assert step_names(plan_for(stack, ["kafka", "restate", "streams"])) == [
        "start_kafka", "start_restate", "bootstrap", "start_streams"]
    assert step_names(plan_for(stack, SINGLE)) == step_names(stack.plan())
    cluster = Stack(ephemeral_cluster_settings(tmp_path, read_env_file=False), tmp_path, progress=lambda _: None)
    # Some members of a group: those alone; a whole group: its own step, as a first `up`.
    assert step_names(plan_for(cluster, ["kafka-2", "restate-1", "restate-2", "restate-3", "service-1", "haproxy"])) \
        == ["_brokers(['kafka-2'],)", "start_restate_cluster", "_replicas(['service-1'],)", "start_haproxy",
            "bootstrap"]
    every = ["kafka-1", "kafka-2", "kafka-3", "restate-1", "restate-2", "restate-3", "provider", "smtp",
             "service-1", "service-2", "haproxy", "streams"]
    assert step_names(plan_for(cluster, every)) == step_names(cluster.plan())


def test_pid_files_are_read_in_start_order(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "streams.pid").write_text(f"{os.getpid()} {start_time(os.getpid())}")
    (tmp_path / "service.pid").write_text(f"{gone.pid} 1")
    (tmp_path / "kafka.pid").write_text("garbage")
    assert pid_states(tmp_path) == {"kafka": ("dead", 0), "service": ("dead", gone.pid),
                                    "streams": ("running", os.getpid())}


def group_of(tmp_path: Path) -> Managed:
    """A leader whose worker shares its process group, as granian's and hypercorn's do."""
    code = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    managed = spawn("service", [sys.executable, "-c", code], tmp_path)
    poll_until(lambda: len(group_members(managed.process.pid)) == 2, timeout=10, interval=0.05)
    return managed


@pytest.mark.parametrize("reaped", [True, False], ids=["leader gone", "leader a zombie"])
def test_the_workers_a_dead_leader_left_behind_are_killed(tmp_path: Path, reaped: bool) -> None:
    managed = group_of(tmp_path)
    pid = managed.process.pid
    try:
        os.kill(pid, signal.SIGKILL)
        if reaped:
            managed.process.wait()
        poll_until(lambda: group_members(pid) != [pid], timeout=10, interval=0.05)
        lines: list[str] = []
        reap_leftovers(managed.pidfile, lines.append)
        poll_until(lambda: not group_members(pid), timeout=10, interval=0.05)
        [line] = lines
        assert line.startswith(f"service: killed what was left of its process group {pid}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        managed.process.wait()


def test_a_reused_pid_is_left_alone(tmp_path: Path) -> None:
    managed = group_of(tmp_path)
    pid = managed.process.pid
    try:
        managed.pidfile.write_text(f"{pid} 1")  # the pid file's process started at another time
        reap_leftovers(managed.pidfile, print)
        assert len(group_members(pid)) == 2
    finally:
        os.killpg(pid, signal.SIGKILL)
        managed.process.wait()


def test_a_cluster_started_again_counts_as_provisioned() -> None:
    """`up` after every Restate node died runs the cluster's start, provisioning included:
    restatectl's answer on the nodes' old data is success, not a failure to wait out."""
    said = ("Provision cluster with this configuration? Auto-confirming --yes is set.\n"
            "🤷 Cluster has been provisioned by somebody else.\n")
    assert PROVISIONED_BEFORE.search(said)
    assert PROVISIONED_BEFORE.search("The cluster is already provisioned")
    assert not PROVISIONED_BEFORE.search("error: no node answered")


@dataclass
class SlowToStop:
    """A component that takes ``seconds`` to stop and records when it did."""

    name: str
    log: list[tuple[str, float, float]]
    seconds: float = 0.3

    def stop(self, timeout: float = 15.0) -> None:
        began = time.monotonic()
        time.sleep(self.seconds)
        self.log.append((self.name, began, time.monotonic()))


def test_a_kinds_members_stop_together_and_kinds_one_after_another(tmp_path: Path) -> None:
    cluster = Stack(ephemeral_cluster_settings(tmp_path, read_env_file=False), tmp_path, progress=lambda _: None)
    log: list[tuple[str, float, float]] = []
    names = ["kafka-1", "kafka-2", "kafka-3", "restate-1", "restate-2", "restate-3", "service-1", "service-2"]
    cluster.components = {n: cast(Any, SlowToStop(n, log)) for n in names}
    began = time.monotonic()
    cluster.stop()
    assert time.monotonic() - began < 0.3 * len(names) / 2  # not one by one
    assert not cluster.components
    window = {kind_of(n): (min(b for m, b, _ in log if kind_of(m) == kind_of(n)),
                           max(e for m, _, e in log if kind_of(m) == kind_of(n))) for n in names}
    # Every service stopped before any Restate node began to, every Restate node before any broker.
    assert window["service"][1] <= window["restate"][0], window
    assert window["restate"][1] <= window["kafka"][0], window
    for kind in ("kafka", "restate", "service"):  # a kind's members overlapped
        spans = [(b, e) for m, b, e in log if kind_of(m) == kind]
        assert max(b for b, _ in spans) < min(e for _, e in spans), (kind, spans)
