"""`switchyard pipeline`: the examples' stream views per topic (an entry point adds it to
the CLI: pyproject.toml's ``switchyard.commands``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from switchyard.cli.base import Subcommands, UsageError, command, setting

if TYPE_CHECKING:
    from switchyard.settings import Settings


def register(sub: Subcommands) -> None:
    pipe = command(sub, "pipeline", cmd_pipeline,
                   "per topic: subscription, lag, rates, latencies, DLQ size, retrying and paused invocations",
                   settings=["streams.web_bind", "streams.windows", "streams.page_refresh", "restate.admin_url",
                             "kafka.bootstrap_servers"])
    pipe.add_argument("--window", type=int, metavar="S",
                      help="window size in seconds, one the stream worker keeps (default: the largest)")
    pipe.add_argument("--json", action="store_true", help="print the view as JSON (what the page renders)")
    pipe.add_argument("--watch", action="store_true",
                      help=f"print it again every {setting('streams.page_refresh')} until Ctrl-C")


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
