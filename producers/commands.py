"""The examples' own commands: `post` and `locate` (the seeds' producers), `reserve`,
`submit` and `upload` (the seeds' clients), and `demo` (the seeds' walkthroughs through
every example). An entry point adds them to the CLI (pyproject.toml's
``switchyard.commands``): the framework's CLI knows no example."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from switchyard.cli.base import RunFailed, Subcommands, UsageError, command, from_setting, input_topic, one_of
from switchyard.cli.stack import CLUSTER_HELP, cmd_up, on_cluster

if TYPE_CHECKING:
    from datetime import timedelta

    import httpx

    from handlers.settings import ExampleStackSettings as Settings

KAFKA = "kafka.bootstrap_servers"
INGRESS = "restate.ingress_url"
HOME = "stack.home"


def register(sub: Subcommands) -> None:
    post = command(sub, "post", cmd_post, "publish a post to social-media-posts", settings=[KAFKA])
    post.add_argument("user", help="the user id (the record key)")
    post.add_argument("content", help="the post's text")
    post.add_argument("--metadata", default="public", help="the post's metadata")

    locate = command(sub, "locate", cmd_locate, "publish a location event to package-location-updates",
                     settings=[KAFKA])
    locate.add_argument("package", help="the package id (the record key)")
    locate.add_argument("location", help="where the package is now")
    locate.add_argument("--timestamp", help="the event's time, YYYY-MM-DD HH:MM (default: now)")

    reserve = command(sub, "reserve", cmd_reserve, "reserve a product, once per reservation id (durable RPC)",
                      settings=[INGRESS], description=RESERVE)
    reserve.add_argument("product_id", metavar="PRODUCT", help="the product to reserve")
    reserve.add_argument("reservation_ids", nargs="+", metavar="RESERVATION",
                         help="reservation ids, each the request's idempotency key")
    reserve.add_argument("--ingress", metavar="URL", help=f"Restate's ingress URL ({from_setting(INGRESS)})")

    submit = command(sub, "submit", cmd_submit, "queue a task (optionally delayed); print its outcome",
                     settings=[INGRESS], description=SUBMIT)
    submit.add_argument("task_name", metavar="TASK", help="the task's name")
    submit.add_argument("payload", nargs="?", metavar="PAYLOAD", help="the task's payload, JSON (default: none)")
    submit.add_argument("--id", dest="task_id", help="the task id, its idempotency key (default: a new one)")
    submit.add_argument("--delay", type=delay, help="run it this much later: 500ms, 10s, 2m, 1h (default: now)")
    submit.add_argument("--no-wait", action="store_true", help="queue it and do not wait for the outcome")
    submit.add_argument("--ingress", metavar="URL", help=f"Restate's ingress URL ({from_setting(INGRESS)})")

    upload = command(sub, "upload", cmd_upload, "start an upload; its URL now, or by email when slow",
                     settings=[INGRESS, "uploads.sync_timeout"], description=UPLOAD)
    upload.add_argument("upload_id", metavar="UPLOAD", help="the upload's id: one workflow per id, so a new id "
                        "for each upload")
    upload.add_argument("--email", help="where a slow upload's URL goes (default: <UPLOAD>@example.com)")
    upload.add_argument("--timeout", type=float, metavar="SECONDS",
                        help=f"how long to wait for the URL ({from_setting('uploads.sync_timeout')})")
    upload.add_argument("--ingress", metavar="URL", help=f"Restate's ingress URL ({from_setting(INGRESS)})")
    demo = command(sub, "demo", cmd_demo, "the stack up and the seeds' demo traffic through every example",
                   settings=[HOME, KAFKA, INGRESS])
    demo.add_argument("--cluster", action="store_true", help=CLUSTER_HELP)
    demo.add_argument("--only", action="append", metavar="SCENE",
                      help="run only this scene (repeatable; e.g. UserFeed, PackageTracker; default: every scene)")


RESERVE = """\
Reserve a product: the seed's durable-RPC client (MyClient).

  switchyard reserve product1 res-1 res-2 res-1

Each reservation is `POST /ProductService/{product}/reserve` with the reservation id as
its idempotency key: Restate runs it to completion once and answers a repeat with the
first answer. Exit 1 if a request failed."""

SUBMIT = """\
Queue a task: the seed's TaskSubmitter.

  switchyard submit resize '{"image": "cat.png"}' --id task-1 --delay 10s

A one-way send, `POST /AsyncTaskWorker/runTask/send?delay=...`, with idempotency key
`task-queue/<id>` (what a task-queue record with key <id> gets): the same id again runs
nothing twice. Then it waits for the outcome unless --no-wait. Exit 1 if it failed."""

UPLOAD = """\
Start an upload: the seed's UploadClient.

  switchyard upload someone21
  switchyard upload upload-7 --email ada@example.com

Starts the DataUploadService workflow of the id and waits up to --timeout for the URL;
a slow upload's URL is asked for by email instead. Exit 1 if a request failed."""


def delay(text: str) -> timedelta:
    """--delay's type (producers.tasks.parse_delay, imported only when --delay is given)."""
    from producers.tasks import parse_delay

    try:
        return parse_delay(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_post(settings: Settings, args: argparse.Namespace) -> int:
    from producers import posts as post_events
    from switchyard.core.preflight import checked_producer
    from switchyard.ops.produce import produce

    producer = checked_producer(settings.kafka, "social-media-posts")
    sent = produce(producer, input_topic("social-media-posts"), [post_events.post(args.user, args.content,
                                                                                   args.metadata)])
    print(f"sent {sent} post for {args.user}")
    return 0


def cmd_locate(settings: Settings, args: argparse.Namespace) -> int:
    import time

    from producers import packages as package_events
    from switchyard.core.preflight import checked_producer
    from switchyard.ops.produce import produce

    producer = checked_producer(settings.kafka, "package-location-updates")
    when = args.timestamp if args.timestamp is not None else time.strftime("%Y-%m-%d %H:%M")
    sent = produce(producer, input_topic("package-location-updates"),
                   [package_events.location(args.package, args.location, when)])
    print(f"sent {sent} location event for {args.package}")
    return 0


# -- the seeds' clients, over Restate's ingress --------------------------------------------


@contextmanager
def ingress(url: str, failures: tuple[type[Exception], ...]) -> Iterator[httpx.Client]:
    """An HTTP client of Restate's ingress. Not reaching it ends the command with exit 2;
    a request that failed (``failures``, any other HTTP error) with exit 1."""
    import httpx

    failed: tuple[type[Exception], ...] = (httpx.HTTPError, *failures)
    with httpx.Client(base_url=url, timeout=60) as http:
        try:
            yield http
        except httpx.ConnectError as exc:
            raise UsageError(f"Restate's ingress at {url} is not reachable ({exc}); is the stack up?") from None
        except failed as exc:
            raise RunFailed(exc) from None


def cmd_reserve(settings: Settings, args: argparse.Namespace) -> int:
    from producers.reservations import ReservationFailed, reserve

    with ingress(args.ingress or settings.restate.ingress_url, (ReservationFailed,)) as http:
        for reservation_id in args.reservation_ids:
            granted = reserve(http, args.product_id, reservation_id)
            print(f"{args.product_id} {reservation_id}: {'reserved' if granted else 'refused'} ({granted})")
    return 0


def cmd_submit(settings: Settings, args: argparse.Namespace) -> int:
    import uuid

    from pydantic import ValidationError

    from producers.tasks import SubmitFailed, attach, describe, submit, task_of

    task_id = args.task_id or f"task-{uuid.uuid4().hex[:12]}"
    try:
        task = task_of(args.task_name, args.payload)
    except ValueError as exc:
        raise UsageError(exc) from None
    with ingress(args.ingress or settings.restate.ingress_url, (SubmitFailed, ValidationError)) as http:
        sent = submit(http, task_id, task, args.delay)
        later = f", runs in {args.delay}" if args.delay else ""
        print(f"{task_id}: {sent.status} as {sent.invocationId}{later}", flush=True)
        if not args.no_wait:
            wait = 60 + (args.delay.total_seconds() if args.delay else 0)
            print(describe(task_id, attach(http, sent.invocationId, wait)))
    return 0


def cmd_upload(settings: Settings, args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from producers.uploads import UploadFailed, describe, request_of, upload

    timeout = args.timeout if args.timeout is not None else settings.uploads.sync_timeout.total_seconds()
    try:
        request = request_of(args.upload_id, args.email)
    except ValueError as exc:
        raise UsageError(exc) from None
    print(f"Uploading data for {args.upload_id}", flush=True)
    with ingress(args.ingress or settings.restate.ingress_url, (UploadFailed, ValidationError)) as http:
        outcome = upload(http, args.upload_id, request, timeout)
    print(describe(outcome))
    return 0


# -- demo -------------------------------------------------------------------------------


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    import httpx

    from producers.demos import SCENES
    from producers.demos.base import DemoEnv, DemoFailed
    from streams.commands import show_pipeline
    from switchyard.core.kafka import RecordProducer
    from switchyard.stack.paths import dev_home

    scenes = [one_of("--only", name, list(SCENES)) for name in args.only or SCENES]
    from handlers.settings import example_settings

    settings = example_settings(on_cluster(settings, args))
    cmd_up(settings, args)
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
    if failed:
        raise RunFailed(f"demo scenes failed: {', '.join(failed)}")
    return 0
