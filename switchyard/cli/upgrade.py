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
    from switchyard.core.admin import RestateAdmin
    from switchyard.ops.upgrade import UpgradeRefused, roll
    from switchyard.stack.ephemeral import free_ports
    from switchyard.stack.paths import SERVICE_BIND_FILE, dev_home, live_service
    from switchyard.stack.processes import pidfile_names, process_state, stop_pid
    from switchyard.stack.service import start_service
    from switchyard.stack.stack import kind_of, settings_env

    old = live_service(settings)
    run_dir = dev_home(old) / "run"
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
