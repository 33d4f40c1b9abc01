"""`switchyard upgrade`: roll the dev stack's service out to the code on disk, safely."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from switchyard.cli.base import Subcommands, UsageError, command

if TYPE_CHECKING:
    from switchyard.settings import Settings

SUMMARY = ("start the service's new version beside the running one, register it, drain the old one "
           "(invocations in flight finish on the code they started on), then retire it")


def register(sub: Subcommands) -> None:
    p = command(sub, "upgrade", cmd_upgrade, SUMMARY,
                settings=["stack.home", "restate.admin_url", "service.bind", "service.version"])
    p.add_argument("--version", dest="new_version", metavar="V",
                   help="the new build's version (default: a digest of its code; a setting that changes which "
                        "steps run needs one)")
    p.add_argument("--port", type=int, help="where the new version listens (default: a free port)")
    p.add_argument("--drain-timeout", type=float, default=3600.0, metavar="S",
                   help="how long to wait for the old version's invocations (default 3600 s; past it both "
                        "versions keep serving and the command fails: run it again later)")


def cmd_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from switchyard.cli.stack import on_cluster

    cluster = on_cluster(settings, args, detect=True)
    if cluster.stack.is_cluster:
        return upgrade_cluster(cluster, args)
    from switchyard.core.admin import RestateAdmin
    from switchyard.ops.upgrade import UpgradeRefused, roll
    from switchyard.stack.ephemeral import free_ports
    from switchyard.stack.paths import SERVICE_BIND_FILE, dev_home, live_service
    from switchyard.stack.processes import pidfile_names, process_state, stop_pid
    from switchyard.stack.service import start_service
    from switchyard.stack.stack import Stack, kind_of, settings_env

    old = live_service(settings)
    run_dir = dev_home(old) / "run"
    Stack(old, dev_home(old)).request_identity()  # the new process accepts only what Restate signed, as `up`'s
    olds = [n for n in pidfile_names(run_dir) if kind_of(n) == "service"
            and process_state((run_dir / f"{n}.pid").read_text()) != "dead"]
    if len(olds) != 1:
        raise UsageError(f"an upgrade needs one running service process, the dev stack has {olds or 'none'} "
                        f"(`switchyard up` starts it)")
    host, _ = old.service.address
    port = args.port or free_ports(1)[0]
    new = old.model_copy(update={
        "service": old.service.model_copy(update={"bind": f"{host}:{port}", "version": args.new_version}),
        "restate": old.restate.model_copy(update={"deployment_url": f"http://{host}:{port}"}),
    }, deep=True)
    name = f"service-{port}"
    print(f"[1/3] new version of the service on {new.service.bind} ...", flush=True)
    managed, took = start_service(new, dev_home(old), settings_env(new), new.stack.start_timeout.total_seconds(),
                                  name)
    print(f"[1/3] ready in {took:.1f}s (log {managed.log})", flush=True)
    admin = RestateAdmin(old.restate.admin_url)
    try:
        report = roll(admin, old.restate.deployment_url, new.restate.deployment_url,
                      drain_timeout=args.drain_timeout, progress=lambda line: print(f"[2/3] {line}", flush=True))
    except UpgradeRefused as refused:
        if "nothing to roll" in str(refused):
            managed.stop()
        raise
    finally:
        admin.close()
    [old_name] = olds
    stop_pid(int((run_dir / f"{old_name}.pid").read_text().split()[0]))
    (run_dir / f"{old_name}.pid").unlink(missing_ok=True)
    (run_dir / SERVICE_BIND_FILE).write_text(new.service.bind)
    for line in report.lines():
        print(f"[3/3] {line}")
    print(f"[3/3] {name} serves version {report.new_version} on {new.service.bind}; {old_name} stopped")
    return 0


def upgrade_cluster(settings: Settings, args: argparse.Namespace) -> int:
    """The local cluster (`switchyard up --cluster`): its replicas and HAProxy, known by
    their pid files, handed to `Stack.upgrade_cluster` (new replicas beside the old,
    HAProxy routing each version's path to its own and soft-reloaded, the old drained,
    retired and stopped)."""
    from switchyard.stack.paths import dev_home, live_service, recorded_replicas
    from switchyard.stack.processes import Adopted
    from switchyard.stack.stack import ReplicaGroup, Stack

    live = live_service(settings)
    stack = Stack(live, dev_home(live), progress=lambda line: print(line, flush=True), live=False)
    stack.request_identity()  # the new replicas accept only what Restate signed, as `up`'s do
    groups = [ReplicaGroup(**g) for g in recorded_replicas(stack.run_dir)]
    if len(groups) > 1:  # an earlier upgrade left a version draining: drain it too
        stack.replica_groups = groups
    names = [n for g in stack.replica_groups for n in g.names] or \
        [f"service-{i}" for i in range(1, len(live.stack.service_replicas) + 1)]
    for name in ["haproxy", *names]:
        adopted = Adopted.running(stack.run_dir, name)
        if adopted is None:
            raise UsageError(f"{name} of the local cluster is not running (`switchyard up --cluster` starts it)")
        stack.components[name] = adopted

    def adjust(new: Settings) -> None:
        if args.new_version:
            new.service.version = args.new_version

    report = stack.upgrade_cluster(adjust, args.drain_timeout, [args.port] if args.port else None)
    for line in report.lines():
        print(f"[4/4] {line}")
    return 0
