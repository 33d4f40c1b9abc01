"""What every command module shares: the parser class, its help format, one error style.

Only argparse-level things here: `switchyard --help` and `switchyard CMD --help` import
this and the command modules' parser code, never the stack, Kafka or pydantic. Each
command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

if TYPE_CHECKING:
    from switchyard.core.catalogue import Topic

PROG = "switchyard"
SETTINGS_NOTE = "Settings come from the environment (or .env): SWITCHYARD_<SECTION>__<KEY>."
PRIVATE_STACK_NOTE = ("It runs a private stack on free ports: the ports and paths are its own, every other\n"
                      "setting comes from the environment (or .env): SWITCHYARD_<SECTION>__<KEY>.")

# An app's own commands take its settings class (a subclass of Settings): Any here.
WithSettings = Callable[[Any, argparse.Namespace], int]
WithoutSettings = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """Ends a command with ``switchyard: error: <message>`` and exit code ``code``."""

    code = 2


class UsageError(CliError):
    """Exit 2: the input or the setup is wrong (an option, a setting, a topic, a component down)."""

    code = 2


class RunFailed(CliError):
    """Exit 1: the command ran to its end, and what it checked failed."""

    code = 1


def error_line(message: object) -> str:
    """The one error style: one line on stderr."""
    text = " ".join(str(message).split())  # one line, whatever the message held
    return f"{PROG}: error: {text}\n"


def env_name(setting: str) -> str:
    """``kafka.bootstrap_servers`` -> ``SWITCHYARD_KAFKA__BOOTSTRAP_SERVERS``: the rule of
    ``switchyard.core.settings.env_name``, which `--help` cannot import (pydantic);
    tests/unit/test_env_names.py checks the two agree on every setting."""
    return "SWITCHYARD_" + "__".join(part.upper() for part in setting.split("."))


def from_setting(setting: str) -> str:
    """Help text for an option whose default comes from a setting."""
    return f"default: the setting {setting}, env {env_name(setting)}"


def setting(name: str) -> str:
    """A setting named in help text: ``streams.page_refresh (env SWITCHYARD_STREAMS__PAGE_REFRESH)``."""
    return f"{name} (env {env_name(name)})"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; each option's help ends with its default, when it has one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if ("%(default)" in text or "default:" in text or default is None or default is False
                or default == argparse.SUPPRESS or default == [] or default == ""):
            return text
        if not action.option_strings and action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line: ``switchyard: error: ...``, exit 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, error_line(f"{message} (see `{self.prog} --help`)"))


Subcommands: TypeAlias = "argparse._SubParsersAction[Parser]"  # what add_subparsers gives


class VersionAction(argparse.Action):
    """``--version``: the installed package's version, looked up only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        import switchyard

        print(f"{PROG} {switchyard.__version__}")
        parser.exit()


def command(
    sub: Subcommands, name: str, run: WithSettings | WithoutSettings, summary: str, *,
    settings: Sequence[str] | None = (), description: str | None = None, aliases: Sequence[str] = (),
    private_stack: bool = False,
) -> Parser:
    """Adds subcommand ``name`` running ``run``.

    ``settings``: the settings it reads (listed in its help with their environment
    variables); it gets the loaded ``Settings`` as first argument. None: it is given no
    settings (``run(args)``); ``private_stack``: it builds its own, for a private stack
    on free ports (switchyard/stack/ephemeral.py), from the environment too.
    """
    epilog = None
    if settings:
        listed = "\n".join(f"  {s:32} {env_name(s)}" for s in settings)
        epilog = f"settings it reads (environment or .env):\n{listed}"
    elif settings is not None:
        epilog = SETTINGS_NOTE
    elif private_stack:
        epilog = PRIVATE_STACK_NOTE
    p: Parser = sub.add_parser(name, help=summary, description=description or summary[:1].upper() + summary[1:],
                               epilog=epilog, aliases=list(aliases))
    p.set_defaults(run=run, needs_settings=settings is not None)
    if settings is not None or private_stack:
        app_option(p)
    return p


APP_HELP = ("the app it works on, as MODULE:APP (default: env SWITCHYARD_APP, else the examples, "
            "handlers.app:app)")


def app_option(p: argparse.ArgumentParser) -> None:
    """``--app MODULE:APP``: sets SWITCHYARD_APP for the command (switchyard/cli/main.py)."""
    p.add_argument("--app", dest="app_spec", metavar="MODULE:APP", default=argparse.SUPPRESS, help=APP_HELP)


def one_of(name: str, value: str, known: Sequence[str]) -> str:
    """``value`` if it is one of ``known``; a UsageError listing them otherwise (for
    choices checked after parsing, where listing them would import the catalogue)."""
    if value not in known:
        raise UsageError(f"{name}: unknown {value!r}; known: {', '.join(known)}")
    return value


def input_topic(name: str) -> Topic:
    """The app's input topic ``name``, or a UsageError naming the known ones."""
    from switchyard.serving import current_app

    try:
        return current_app().catalogue().topic(name)
    except KeyError as exc:
        raise UsageError(f"topic: {exc.args[0]}") from None
