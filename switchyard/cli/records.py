"""Sending records and requests: produce, post, locate, and the seeds' clients reserve,
submit and upload."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from switchyard.cli.base import RunFailed, Subcommands, UsageError, command, from_setting, input_topic

if TYPE_CHECKING:
    from datetime import timedelta

    import httpx

    from switchyard.core.catalogue import Topic
    from switchyard.settings import Settings

KAFKA = "kafka.bootstrap_servers"
INGRESS = "restate.ingress_url"
OBJECT_KEYS = 10  # --generate's keys on an object topic, unless --keys


def register(sub: Subcommands) -> None:
    prod = command(sub, "produce", cmd_produce, "produce records to an input topic, validated against its schema",
                   settings=[KAFKA, "kafka.properties"], description=PRODUCE)
    prod.add_argument("topic", metavar="TOPIC", help="an input topic (`switchyard topics` lists them)")
    prod.add_argument("--key", help="the record's key (with --value)")
    prod.add_argument("--value", help="the record's value, JSON (with --key)")
    prod.add_argument("--file", metavar="FILE", help="lines of KEY<separator>JSON; - reads standard input")
    prod.add_argument("--separator", default=":", help='between key and value in --file lines (default: ":")')
    prod.add_argument("--generate", type=int, metavar="N",
                      help="N of the topic's sample records, what `switchyard load` sends (a topic whose "
                           "records need a deployment's secret has none)")
    prod.add_argument("--keys", type=int, help=f"distinct keys for --generate (default: {OBJECT_KEYS} on an object "
                      "topic; elsewhere a key per record, as a key runs once there)")
    prod.add_argument("--seed", type=int, default=7, help="random seed for --generate")
    prod.add_argument("--no-validate", action="store_true", help="send even what the schema refuses (to try the DLQ)")

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


PRODUCE = """\
Produce records to an input topic, validated against its schema.

  switchyard produce package-location-updates --key package1 \\
      --value '{"timestamp": "2024-10-10 13:00", "location": "Paris"}'
  printf 'package1:{"timestamp": "2024-10-10 14:00", "location": "Ghent"}\\n' \\
      | switchyard produce package-location-updates --file -
  switchyard produce social-media-posts --generate 100 --keys 5
  switchyard produce trip-bookings --generate 3

Every record is checked before any is sent; a refusal names the record or line. A key
must be UTF-8; --no-validate sends a value its schema refuses (to try the DLQ)."""

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


# -- Kafka ------------------------------------------------------------------------------


def cmd_produce(settings: Settings, args: argparse.Namespace) -> int:
    from producers.load import sample_records
    from producers.records import produce
    from switchyard.core.preflight import checked_producer

    t = input_topic(args.topic)
    validate = not args.no_validate
    if args.file:
        records = lines_of(args.file, t, args.separator, validate)
        validate = False  # each line was checked as it was read
    elif args.generate is not None:
        keys = args.keys if args.keys is not None or t.kind != "object" else OBJECT_KEYS
        try:
            records = sample_records(t.name, args.generate, keys, args.seed)
        except ValueError as exc:  # no sample records, or --keys below 1
            raise UsageError(f"--generate: {exc}") from None
    elif args.key is not None and args.value is not None:
        records = [(args.key, args.value.encode())]
    else:
        raise UsageError("produce: give --key and --value, --file FILE (- for standard input), or --generate N")
    sent = produce(checked_producer(settings.kafka, t.name), t, records, validate=validate)
    print(f"sent {sent} record(s) to {t.name}")
    return 0


def lines_of(name: str, t: Topic, separator: str, validate: bool) -> list[tuple[str, bytes]]:
    """The records of --file ``name`` (``-``: standard input), every line checked first."""
    from producers.console import read_lines
    from producers.records import RecordError

    path = Path(name)
    try:
        data = sys.stdin.buffer.read() if name == "-" else path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--file: {exc.strerror}: {path}") from None
    label = "line " if name == "-" else f"{path}:"  # line 3, or records.txt:3
    try:
        return read_lines(data, t, separator, validate, lambda n: f"{label}{n}")
    except RecordError as exc:
        raise UsageError(f"{exc}; nothing sent") from None


def cmd_post(settings: Settings, args: argparse.Namespace) -> int:
    from producers import posts as post_events
    from producers.records import produce
    from switchyard.core.preflight import checked_producer

    producer = checked_producer(settings.kafka, "social-media-posts")
    sent = produce(producer, input_topic("social-media-posts"), [post_events.post(args.user, args.content,
                                                                                   args.metadata)])
    print(f"sent {sent} post for {args.user}")
    return 0


def cmd_locate(settings: Settings, args: argparse.Namespace) -> int:
    import time

    from producers import packages as package_events
    from producers.records import produce
    from switchyard.core.preflight import checked_producer

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
