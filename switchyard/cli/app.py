"""`switchyard`: run the stack, bootstrap it, drive it, look at it."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

from producers import packages as package_events
from producers import posts as post_events
from producers.demos import SCENES
from producers.demos.base import DemoEnv, DemoFailed
from producers.records import RecordError, from_file, produce
from schemas.catalogue import CATALOGUE, TOPICS, topic
from switchyard.core.admin import ComponentDown, RestateAdmin
from switchyard.core.bootstrap import bootstrap
from switchyard.core.identity import UnsignedExposure, check_exposure, service_identity_keys
from switchyard.core.kafka import RecordProducer
from switchyard.ops.paused import paused, resume, select
from switchyard.ops.topics_table import topics_table
from switchyard.settings import Settings
from switchyard.stack.kafka import ensure_jars, install_console_producer
from switchyard.stack.paths import REPO, dev_home, restate_cli_binary, restate_server_binary
from switchyard.stack.processes import StartupError, process_state
from switchyard.stack.service import service_command
from switchyard.stack.stack import ORDER, Stack


def component_states(settings: Settings) -> dict[str, tuple[str, int]]:
    """Per component with a pid file: (state, pid), state as `process_state` tells it."""
    run_dir = dev_home(settings) / "run"
    states = {}
    for name in ORDER:
        pidfile = run_dir / f"{name}.pid"
        if pidfile.exists():
            text = pidfile.read_text().strip()
            states[name] = (process_state(text), int(text.split()[0]) if text[:1].isdigit() else 0)
    return states


def running(settings: Settings) -> dict[str, int]:
    return {name: pid for name, (state, pid) in component_states(settings).items() if state != "dead"}


def cmd_fetch(settings: Settings, args: argparse.Namespace) -> int:
    libs = ensure_jars()
    print(f"Kafka jars: {libs} ({len(list(libs.glob('*.jar')))} jars)")
    print(f"{install_console_producer(Path(sys.executable).parent, libs)}: Apache Kafka's ConsoleProducer")
    bin_dir = Path(sys.executable).parent
    for binary in (restate_server_binary(), restate_cli_binary()):
        if not binary.exists():
            print(f"missing {binary}: run `npm ci`", file=sys.stderr)
            return 1
        # On the venv's PATH, so `restate kv get ...` works as in the seed READMEs.
        link = bin_dir / binary.name
        link.unlink(missing_ok=True)
        link.symlink_to(binary)
        print(f"{link} -> {binary}")
    return 0


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    alive = running(settings)
    if alive:
        print(f"already running: {', '.join(f'{n} (pid {p})' for n, p in alive.items())}; bootstrapping again")
        for line in bootstrap(settings, CATALOGUE).lines():
            print(f"  {line}")
        return 0
    start = time.monotonic()
    Stack(settings, dev_home(settings)).start()
    print(f"stack up in {time.monotonic() - start:.1f}s; stop it with `make down`")
    return 0


def cmd_down(settings: Settings, args: argparse.Namespace) -> int:
    stack = Stack(settings, dev_home(settings))
    alive = running(settings)
    stack.stop()
    print(f"stopped: {', '.join(alive) or 'nothing was running'}")
    return 0


def cmd_reset(settings: Settings, args: argparse.Namespace) -> int:
    cmd_down(settings, args)
    home = dev_home(settings)
    shutil.rmtree(home, ignore_errors=True)
    print(f"removed {home} (Kafka logs, Restate data, pid files)")
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    states = component_states(settings)
    for name in ORDER:
        state, pid = states.get(name, ("stopped", 0))
        shown = {"running": f"running (pid {pid})", "frozen": f"FROZEN (pid {pid} is stopped: kill -CONT {pid})",
                 "dead": f"DEAD (pid {pid} is gone; its log: {dev_home(settings) / 'run' / f'{name}.log'})",
                 }.get(state, "stopped")
        print(f"{name:8} {shown}")
    admin = RestateAdmin(settings.restate.admin_url, timeout=5)
    try:
        subs: dict[str, list[str]] = {}
        for sub in admin.subscriptions():
            subs.setdefault(sub["source"].rsplit("/", 1)[-1], []).append(sub["id"])
        stuck = paused(admin)
    except ComponentDown as exc:
        print(exc)
        return 1
    finally:
        admin.close()
    print(f"\n{'topic':28} {'sink':40} subscription (of the routed topic, for topics behind the key gate)")
    for t in TOPICS:
        ids = subs.get(t.subscribed_topic, [])
        direct = subs.get(t.name, []) if t.gated else []
        # A second subscription (e.g. the seed's curl) delivers every record twice: object
        # sinks skip the repeat, but it is wasted work, and on a gated topic it halts at
        # the first binary key. The bootstrap retires direct ones on gated topics.
        note = f"  ({len(ids)} subscriptions: delete extras with DELETE /subscriptions/<id>)" if len(ids) > 1 else ""
        if direct:
            note += f"  (direct subscription {', '.join(direct)} bypasses the key gate: run `switchyard bootstrap`)"
        print(f"{t.name:28} {t.target:40} {', '.join(ids) or 'missing'}{note}")
    print(f"\npaused invocations: {len(stuck)}" + ("  (continue them with `switchyard resume`)" if stuck else ""))
    for invocation in stuck[:20]:
        print(f"  {invocation.line()}")
    return 0


def cmd_resume(settings: Settings, args: argparse.Namespace) -> int:
    admin = RestateAdmin(settings.restate.admin_url, timeout=10)
    try:
        chosen = select(paused(admin), args.topic, args.ids)
        if not chosen:
            print("no paused invocation matches")
            return 0
        for invocation in chosen:
            print(f"resuming {invocation.line()}")
        resume(admin, chosen)
    finally:
        admin.close()
    print(f"resumed {len(chosen)}")
    return 0


def cmd_pipeline(settings: Settings, args: argparse.Namespace) -> int:
    """Per topic: subscription, lag, rates, latencies, DLQ size, retrying/paused invocations."""
    from streams.status import ViewError, fetch, render

    while True:
        try:
            view = fetch(settings, args.window)
        except ViewError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(view, indent=2) if args.json else render(view), flush=True)
        if not args.watch:
            return 0
        time.sleep(settings.streams.page_refresh.total_seconds())
        print()


def cmd_bootstrap(settings: Settings, args: argparse.Namespace) -> int:
    for line in bootstrap(settings, CATALOGUE).lines():
        print(line)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    cmd_up(settings, args)
    scenes = args.only or list(SCENES)
    producer = RecordProducer(settings.kafka.client_config())
    failed = []
    with httpx.Client(base_url=settings.restate.ingress_url, timeout=60) as http:
        env = DemoEnv(settings, producer, http, print, dev_home(settings) / "mail")
        for name in scenes:
            print(f"\n=== {name} " + "=" * max(0, 60 - len(name)))
            start = time.monotonic()
            try:
                SCENES[name](env)
            except DemoFailed as exc:
                failed.append(name)
                print(f"  FAILED: {exc}")
            print(f"  ({time.monotonic() - start:.1f}s)")
    show_pipeline(settings)
    print(f"\n{len(scenes) - len(failed)}/{len(scenes)} demo scenes succeeded" +
          (f"; failed: {', '.join(failed)}" if failed else ""))
    print("The stack keeps running: try the seed README steps (see README), `make status`, `make down`.")
    return 1 if failed else 0


def show_pipeline(settings: Settings) -> None:
    """The demo traffic as the stream views saw it (what `switchyard pipeline` prints)."""
    from streams.status import ViewError, fetch, render

    print("\n=== Pipeline (stream views; live at "
          f"http://{settings.streams.web_bind}/pipeline/) " + "=" * 10)
    try:
        print(render(fetch(settings)))
    except ViewError as exc:
        print(f"  (no view: {exc})")


def cmd_produce(settings: Settings, args: argparse.Namespace) -> int:
    t = topic(args.topic)
    if args.file:
        records = list(from_file(Path(args.file), args.separator))
    elif args.generate:
        gen = {"social-media-posts": post_events.generate, "package-location-updates": package_events.generate}
        if t.name not in gen:
            raise RecordError(f"--generate: no generator for {t.name} (have: {', '.join(gen)})")
        records = list(gen[t.name](args.generate, args.keys, args.seed))
    elif args.key is not None and args.value is not None:
        records = [(args.key, args.value.encode())]
    else:
        raise RecordError("give --key and --value, --file, or --generate N")
    sent = produce(RecordProducer(settings.kafka.client_config()), t, records, validate=not args.no_validate)
    print(f"sent {sent} record(s) to {t.name}")
    return 0


def cmd_post(settings: Settings, args: argparse.Namespace) -> int:
    producer = RecordProducer(settings.kafka.client_config())
    sent = produce(producer, topic("social-media-posts"), [post_events.post(args.user, args.content, args.metadata)])
    print(f"sent {sent} post for {args.user}")
    return 0


def cmd_locate(settings: Settings, args: argparse.Namespace) -> int:
    producer = RecordProducer(settings.kafka.client_config())
    update = package_events.location(args.package, args.location, args.timestamp)
    sent = produce(producer, topic("package-location-updates"), [update])
    print(f"sent {sent} location event for {args.package}")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    """The Python service in the foreground: one of N replicas behind a load balancer when
    scaling out (Restate spreads invocations; the service keeps no state of its own)."""
    check_exposure(settings.service, service_identity_keys(settings.service))
    command = service_command(settings)
    print(f"serving {settings.service.bind}: {' '.join(command)}", flush=True)
    os.execv(command[0], command)
    return 0  # not reached


def cmd_faults(settings: Settings, args: argparse.Namespace) -> int:
    """Kill, freeze, cut off and poison each part under load on a private stack; report the damage."""
    from switchyard.faults.suite import SCENARIOS, Timings, run_suite

    names = args.only or list(SCENARIOS)
    keys, rate, timings = ((10, 100.0, Timings(warmup=2.0, downtime=1.0)) if args.quick
                           else (50, 400.0, Timings(warmup=4.0, downtime=2.0, poison=300)))
    with tempfile.TemporaryDirectory(prefix="switchyard-faults-") as home:
        report = run_suite(Path(home), names, keys, rate, timings)
    out = Path(args.out)
    report.write(out)
    print(f"\n{report.table()}\n\nwritten to {out}")
    return 0 if all(s.clean for s in report.scenarios) else 1


def cmd_topics(settings: Settings, args: argparse.Namespace) -> int:
    print(topics_table())
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="switchyard", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="fetch the Kafka jars; check the npm binaries").set_defaults(fn=cmd_fetch)
    sub.add_parser("up", help="start Kafka, Restate and the service; bootstrap").set_defaults(fn=cmd_up)
    sub.add_parser("down", help="stop the dev stack").set_defaults(fn=cmd_down)
    sub.add_parser("reset", help="stop the dev stack and delete its data").set_defaults(fn=cmd_reset)
    sub.add_parser("status", help="components and subscriptions").set_defaults(fn=cmd_status)
    sub.add_parser("topics", help="the topic catalogue as a table").set_defaults(fn=cmd_topics)
    res = sub.add_parser("resume", help="continue paused invocations (records whose retries ran out)")
    res.add_argument("ids", nargs="*", metavar="ID", help="invocation ids (default: every paused one)")
    res.add_argument("--topic", choices=[t.name for t in TOPICS], help="only those handling this topic's records")
    res.set_defaults(fn=cmd_resume)
    pipe = sub.add_parser("pipeline", help="per topic: subscription, lag, rates, latencies, DLQ, stuck invocations")
    pipe.add_argument("--window", type=int, metavar="S", help="window size in seconds (default: the largest)")
    pipe.add_argument("--json", action="store_true", help="the view as JSON (what the page renders)")
    pipe.add_argument("--watch", action="store_true", help="print it again every streams.page_refresh")
    pipe.set_defaults(fn=cmd_pipeline)
    sub.add_parser("serve", help="run the Python service in the foreground (service.server: granian or hypercorn)"
                   ).set_defaults(fn=cmd_serve)
    faults = sub.add_parser("faults", help="kill, freeze, cut off, poison under load; check every record's outcome")
    faults.add_argument("--only", action="append", choices=["service", "restate-server", "kafka", "all-in-turn",
                                                             "frozen", "provider-outage", "poison-storm"])
    faults.add_argument("--quick", action="store_true", help="fewer keys, lower rate, shorter phases")
    faults.add_argument("--out", default=str(REPO / "bench" / "results" / "faults.json"))
    faults.set_defaults(fn=cmd_faults)
    sub.add_parser("bootstrap", help="topics, Kafka cluster, deployment, subscriptions").set_defaults(fn=cmd_bootstrap)
    demo = sub.add_parser("demo", help="the stack up and the seeds' demo traffic through every example")
    demo.add_argument("--only", action="append", choices=list(SCENES), help="run only this scene (repeatable)")
    demo.set_defaults(fn=cmd_demo)
    prod = sub.add_parser("produce", help="produce records to an input topic, validated against its schema")
    prod.add_argument("topic", choices=[t.name for t in TOPICS])
    prod.add_argument("--key")
    prod.add_argument("--value", help="the JSON value")
    prod.add_argument("--file", help="lines of key<separator>json")
    prod.add_argument("--separator", default=":")
    prod.add_argument("--generate", type=int, metavar="N", help="N generated records")
    prod.add_argument("--keys", type=int, default=10, help="distinct keys for --generate")
    prod.add_argument("--seed", type=int, default=7)
    prod.add_argument("--no-validate", action="store_true", help="send even if the schema refuses it")
    prod.set_defaults(fn=cmd_produce)
    post = sub.add_parser("post", help="publish a post to social-media-posts")
    post.add_argument("user")
    post.add_argument("content")
    post.add_argument("--metadata", default="public")
    post.set_defaults(fn=cmd_post)
    locate = sub.add_parser("locate", help="publish a location event to package-location-updates")
    locate.add_argument("package")
    locate.add_argument("location")
    locate.add_argument("--timestamp", default=time.strftime("%Y-%m-%d %H:%M"))
    locate.set_defaults(fn=cmd_locate)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    settings = Settings()
    try:
        return int(args.fn(settings, args))
    except (ComponentDown, StartupError, RecordError, UnsignedExposure) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
