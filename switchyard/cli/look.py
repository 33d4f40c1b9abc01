"""Looking at an app and acting on it: topics, handlers, resume."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from switchyard.cli.base import Subcommands, app_option, command, input_topic

if TYPE_CHECKING:
    from switchyard.settings import Settings


def register(sub: Subcommands) -> None:
    topics = command(sub, "topics", cmd_topics, "the app's topic catalogue as a table (what the README shows)",
                     settings=None)
    handlers = command(sub, "handlers", cmd_handlers,
                       "every handler of the app, public or private on Restate's ingress, and why (what the README "
                       "shows)", settings=None)
    for p in (topics, handlers):
        app_option(p)
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
