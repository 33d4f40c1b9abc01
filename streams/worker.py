"""`python -m streams.worker --datadir DIR`: the Faust worker the stack starts
(switchyard/stack/streams.py); settings come from the environment like the service's."""

from __future__ import annotations

import argparse
from pathlib import Path

import faust

from schemas.catalogue import CATALOGUE
from streams.app import create_app
from streams.settings import StreamsSettings
from switchyard.core.preflight import KafkaAccessError, check_kafka
from switchyard.core.settings import exit_with_error, load_or_exit


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m streams.worker", description=__doc__)
    p.add_argument("--datadir", required=True, help="where the worker keeps its local data")
    p.add_argument("--loglevel", default="info")
    args = p.parse_args(argv)
    datadir = Path(args.datadir)
    datadir.mkdir(parents=True, exist_ok=True)
    settings = load_or_exit(StreamsSettings)  # a bad setting: one line, no traceback, exit 2
    try:  # a refused login, an untrusted broker or a missing ACL: one line, exit 2
        check_kafka(settings.kafka, read=[t.name for t in CATALOGUE.topics],
                    write=[s.name for s in CATALOGUE.stream_topics], require_reachable=False)
    except KafkaAccessError as exc:
        exit_with_error(exc)
    app = create_app(settings, datadir)
    # Faust's Worker parses no arguments of its own here; it runs until SIGTERM/SIGINT.
    faust.Worker(app, loglevel=args.loglevel, workdir=str(datadir)).execute_from_commandline()


if __name__ == "__main__":
    main()
