"""Looking at the pipeline and acting on it: topics, handlers, pipeline, resume."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from switchyard.cli.base import Subcommands, UsageError, command, input_topic, setting

if TYPE_CHECKING:
    from switchyard.settings import Settings


def register(sub: Subcommands) -> None:
    command(sub, "topics", cmd_topics, "the topic catalogue as a table (what the README shows)", settings=None)
    command(sub, "handlers", cmd_handlers,
            "every handler, public or private on Restate's ingress, and why (what the README shows)",
            settings=None)
    pipe = command(sub, "pipeline", cmd_pipeline,
                   "per topic: subscription, lag, rates, latencies, DLQ size, retrying and paused invocations",
                   settings=["streams.web_bind", "streams.windows", "streams.page_refresh", "restate.admin_url",
                             "kafka.bootstrap_servers"])
    pipe.add_argument("--window", type=int, metavar="S",
                      help="window size in seconds, one the stream worker keeps (default: the largest)")
    pipe.add_argument("--json", action="store_true", help="print the view as JSON (what the page renders)")
    pipe.add_argument("--watch", action="store_true",
                      help=f"print it again every {setting('streams.page_refresh')} until Ctrl-C")
    res = command(sub, "resume", cmd_resume, "continue paused invocations (records whose retries ran out)",
                  settings=["restate.admin_url"])
    res.add_argument("ids", nargs="*", metavar="ID", help="invocation ids (default: every paused one)")
    res.add_argument("--topic", metavar="TOPIC",
                     help="only those handling this input topic's records (default: any topic)")


def cmd_topics(args: argparse.Namespace) -> int:
    from switchyard.ops.topics_table import topics_table

    print(topics_table())
    return 0


def cmd_handlers(args: argparse.Namespace) -> int:
    from switchyard.ops.handlers_table import handlers_table

    print(handlers_table())
    return 0


def cmd_pipeline(settings: Settings, args: argparse.Namespace) -> int:
    """Per topic: subscription, lag, rates, latencies, DLQ size, retrying/paused invocations."""
    import json
    import time

    from streams.status import ViewError, fetch, render

    while True:
        try:
            view = fetch(settings, args.window)
        except ViewError as exc:
            raise UsageError(exc) from None
        print(json.dumps(view, indent=2) if args.json else render(view), flush=True)
        if not args.watch:
            return 0
        time.sleep(settings.streams.page_refresh.total_seconds())
        print()


def show_pipeline(settings: Settings) -> None:
    """The demo traffic as the stream views saw it (what `switchyard pipeline` prints)."""
    from streams.status import ViewError, fetch, render

    print("\n=== Pipeline (stream views; live at "
          f"http://{settings.streams.web_bind}/pipeline/) " + "=" * 10)
    try:
        print(render(fetch(settings)))
    except ViewError as exc:
        print(f"  (no view: {exc})")


def cmd_resume(settings: Settings, args: argparse.Namespace) -> int:
    from switchyard.core.admin import RestateAdmin
    from switchyard.ops.paused import paused, resume, select

    topic = input_topic(args.topic).name if args.topic is not None else None
    admin = RestateAdmin(settings.restate.admin_url, timeout=10)
    try:
        chosen = select(paused(admin), topic, args.ids)
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
