"""The old command names, kept because docs and habits use them: each is exactly
`switchyard <command>` (`switchyard-load --rate 100` = `switchyard load --rate 100`).

Console scripts name module-level callables (pyproject.toml's `switchyard-<command> =
"switchyard.cli.aliases:<command>"`): one per entry of COMMANDS, made by :func:`alias`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from switchyard.cli.main import main

COMMANDS = ("reserve", "submit", "upload", "load", "bench", "dlq")  # `switchyard-<command>`


def alias(command: str) -> Callable[[], int]:
    """The console script `switchyard-<command>`: `switchyard <command>` with its arguments."""

    def run() -> int:
        return main([command, *sys.argv[1:]])

    run.__name__ = run.__qualname__ = command
    run.__doc__ = f"`switchyard-{command}`: exactly `switchyard {command}`."
    return run


reserve, submit, upload, load, bench, dlq = (alias(command) for command in COMMANDS)
