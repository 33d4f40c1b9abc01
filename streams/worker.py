"""`python -m streams.worker --datadir DIR`: the Faust worker the stack starts
(switchyard/stack/streams.py); settings come from the environment like the service's."""

from __future__ import annotations

import argparse
from pathlib import Path

import faust

from streams.app import create_app
from streams.settings import StreamsSettings
from switchyard.core.settings import load_or_exit


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m streams.worker", description=__doc__)
    p.add_argument("--datadir", required=True, help="where the worker keeps its local data")
    p.add_argument("--loglevel", default="info")
    args = p.parse_args(argv)
    datadir = Path(args.datadir)
    datadir.mkdir(parents=True, exist_ok=True)
    settings = load_or_exit(StreamsSettings)  # a bad setting: one line, no traceback, exit 2
    app = create_app(settings, datadir)
    # Faust's Worker parses no arguments of its own here; it runs until SIGTERM/SIGINT.
    faust.Worker(app, loglevel=args.loglevel, workdir=str(datadir)).execute_from_commandline()


if __name__ == "__main__":
    main()
