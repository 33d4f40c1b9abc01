"""The old command names, kept because docs and habits use them: each is exactly
`switchyard <command>` (`switchyard-load --rate 100` = `switchyard load --rate 100`)."""

from __future__ import annotations

import sys

from switchyard.cli.main import main

ALIASES = {
    "switchyard-reserve": "reserve",
    "switchyard-submit": "submit",
    "switchyard-upload": "upload",
    "switchyard-load": "load",
    "switchyard-bench": "bench",
    "switchyard-dlq": "dlq",
}


def _run(command: str) -> int:
    return main([command, *sys.argv[1:]])


def reserve() -> int:
    return _run("reserve")


def submit() -> int:
    return _run("submit")


def upload() -> int:
    return _run("upload")


def load() -> int:
    return _run("load")


def bench() -> int:
    return _run("bench")


def dlq() -> int:
    return _run("dlq")
