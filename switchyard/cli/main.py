"""`switchyard`: run the stack, bootstrap it, drive it, look at it, measure it.

One command with subcommands (`switchyard COMMAND --help` for each). Exit codes: 0 ok;
2 the input or the setup is wrong (an option, a setting, a topic, a component down);
1 the command ran and what it checked failed (a demo scene, a fault scenario, a lost
record). Errors are one line on stderr: `switchyard: error: ...`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from switchyard.cli import dlq, load, look, records, run, stack, upgrade
from switchyard.cli.base import (
    PROG,
    SETTINGS_NOTE,
    CliError,
    Parser,
    Subcommands,
    VersionAction,
    app_option,
    error_line,
)

# Usage errors still defined outside UsageProblem's tree, named "module:Class" and looked
# up in sys.modules (a module not loaded raised none of its errors): SettingsError and
# StartupError are to subclass UsageProblem too, and then this list goes (with
# tests/unit/test_commands_help.py's check that each entry names an exception class).
USAGE_ERRORS = (
    "switchyard.core.settings:SettingsError",  # a bad SWITCHYARD_* variable
    "switchyard.stack.processes:StartupError",  # a component of the stack did not start
)


def parser() -> Parser:
    p = Parser(prog=PROG, description=__doc__, epilog=SETTINGS_NOTE)
    p.add_argument("--version", action=VersionAction, help="print the version and exit")
    app_option(p)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", title="commands", required=True)
    for module in (stack, upgrade, run, records, look, dlq, load):
        module.register(sub)
    for register in plugin_commands():
        register(sub)
    return p


PLUGINS = "switchyard.commands"  # entry-point group: functions adding subcommands


def plugin_commands() -> list[Callable[[Subcommands], None]]:
    """The ``register`` functions installed packages add to the CLI (the examples' `post`,
    `demo`, `pipeline`, the bench and the fault suite are theirs), in name order."""
    from importlib.metadata import entry_points

    found = []
    for ep in sorted(entry_points(group=PLUGINS), key=lambda ep: ep.name):
        try:
            found.append(ep.load())
        except ImportError as exc:  # a package installed without its files: the rest still works
            sys.stderr.write(f"{PROG}: warning: commands of {ep.value} not loaded: {exc}\n")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; returns its exit code (argparse exits 2 itself on a usage error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    args.argv = argv
    if getattr(args, "app_spec", None):
        import os

        # One way to name the app for the whole command and what it starts: the variable.
        os.environ["SWITCHYARD_APP"] = args.app_spec
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.needs_settings:
            from switchyard.core.settings import load
            from switchyard.settings import settings_class

            return int(args.run(load(settings_class()), args))
        return int(args.run(args))
    except CliError as exc:
        sys.stderr.write(error_line(exc))
        return exc.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if not usage_error(exc):
            raise
        sys.stderr.write(error_line(exc))
        return 2


def usage_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the input or the setup is wrong (exit 2, no traceback).
    Imported here, once a command failed: `--help` loads nothing of switchyard.core."""
    from switchyard.core.errors import UsageProblem

    return isinstance(exc, (UsageProblem, *_listed_usage_errors()))


def _listed_usage_errors() -> list[type]:
    """USAGE_ERRORS' classes whose modules are loaded (a module not loaded raised none)."""
    found = (getattr(sys.modules.get(module), name, None)
             for module, _, name in (spec.partition(":") for spec in USAGE_ERRORS))
    return [cls for cls in found if isinstance(cls, type)]


if __name__ == "__main__":
    sys.exit(main())
