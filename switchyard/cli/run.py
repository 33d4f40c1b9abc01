"""`switchyard run pkg.module:app`: serve an App of your own, then bootstrap it."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from switchyard.cli.base import SETTINGS_NOTE, Subcommands, UsageError, command

if TYPE_CHECKING:
    from switchyard.core.settings import CoreSettings

SUMMARY = "serve an App of your own (granian, HTTP/2, the key gate), then bootstrap its topics and subscriptions"
DESCRIPTION = f"""\
Serve the switchyard.App that MODULE:APP names (e.g. flows.greeter:app; the current
directory is on the import path) as the examples' service is served: granian over HTTP/2,
the key gate, results and dead letters, GET /metrics, request identity, versioned paths.
Once it listens, the bootstrap creates the app's topics and their companions, registers
the Kafka cluster and the app's deployment in Restate, and subscribes each topic (it is
idempotent: run it after every change). Ctrl-C stops the service.

Settings that follow from the app default from it: the key gate's consumer group
(<name>-gate) and transactional id, the deployment URL (http://<bind>). The SWITCHYARD_*
variables still win: SWITCHYARD_SERVICE__BIND, SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS,
SWITCHYARD_RESTATE__ADMIN_URL, SWITCHYARD_GATE__GROUP_ID, ...
{SETTINGS_NOTE}"""
STOP_TIMEOUT = 15.0


def register(sub: Subcommands) -> None:
    p = command(sub, "run", cmd_run, SUMMARY, settings=None, description=DESCRIPTION)
    p.add_argument("app", metavar="MODULE:APP", help="the App to serve, e.g. flows.greeter:app")
    p.add_argument("--bind", metavar="HOST:PORT",
                   help="where the service listens (default: the setting service.bind, env SWITCHYARD_SERVICE__BIND)")
    p.add_argument("--no-bootstrap", action="store_true",
                   help="serve only: no topics, deployment or subscriptions made")
    p.add_argument("--start-timeout", type=float, default=60.0, metavar="S",
                   help="how long the service may take to listen")


def cmd_run(args: argparse.Namespace) -> int:
    from switchyard.serving import app_command, app_env, app_settings, load_app

    app = load_app(args.app)
    settings = app_settings(app, **({"service": {"bind": args.bind}} if args.bind else {}))
    server = subprocess.Popen(app_command(settings), env={**os.environ, **app_env(args.app, settings)},
                              start_new_session=True)  # its own group: stopped as one, workers included
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        took = _await_listening(server, settings, args.start_timeout)
        catalogue = app.catalogue()
        print(f"{app.name}: {', '.join(app.targets())} on {settings.service.bind} (ready in {took:.1f}s)",
              flush=True)
        if not args.no_bootstrap and catalogue.topics:
            from switchyard.core.bootstrap import bootstrap

            for line in bootstrap(settings, catalogue).lines():
                print(line, flush=True)
        return _exit_code(server.wait())
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop(server)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _await_listening(server: subprocess.Popen[bytes], settings: CoreSettings, timeout: float) -> float:
    from switchyard.core.poll import tcp_listening

    host, port = settings.service.address
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if server.poll() is not None:
            raise UsageError(f"the service exited while starting (exit code {server.returncode}); "
                             f"its output is above")
        if tcp_listening("127.0.0.1" if host in ("", "0.0.0.0", "::") else host, port):
            return time.monotonic() - began
        time.sleep(0.1)
    raise UsageError(f"the service did not listen on {settings.service.bind} within {timeout:.0f}s")


def _exit_code(code: int) -> int:
    return 0 if code in (0, -signal.SIGINT, -signal.SIGTERM) else 1


def _stop(server: subprocess.Popen[bytes]) -> None:
    """SIGINT to the server's group (granian stops its workers: the gate stops, results are
    flushed), SIGKILL if it is still there after STOP_TIMEOUT."""
    if server.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
    sys.stderr.write(f"switchyard: the service (pid {server.pid}) did not stop\n")
