"""The `switchyard` command: every command and old script name answers --help (argparse
formats help lazily: a stray % in a help string only fails when someone asks for help),
every option says what it is, --help loads nothing heavy, and errors are one line with
exit code 2."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest

from switchyard.cli.main import USAGE_ERRORS, main, parser

ROOT = Path(__file__).parents[2]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
HIDDEN = {("bench", "--tiny")}  # options kept out of --help on purpose (test-only)


def commands(p: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...],
                                                                                      argparse.ArgumentParser]]:
    """Every parser in the tree, with the words that reach it."""
    yield path, p
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from commands(child, (*path, name))


TREE = dict(commands(parser()))


def test_the_tree_has_every_command() -> None:
    top = {path[0] for path in TREE if len(path) == 1}
    assert top == {"fetch", "up", "down", "reset", "status", "bootstrap", "serve", "demo", "identity", "produce",
                   "post", "locate", "reserve", "submit", "upload", "topics", "handlers", "pipeline", "resume", "dlq",
                   "load", "bench", "hops", "faults", "upgrade", "run"}
    assert {("dlq", "list"), ("dlq", "replay")} <= set(TREE)


@pytest.mark.parametrize("path", sorted(TREE), ids=lambda p: " ".join(p) or "switchyard")
def test_help_exits_zero(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {' '.join(('switchyard', *path))}")


@pytest.mark.parametrize("path", sorted(TREE), ids=lambda p: " ".join(p) or "switchyard")
def test_every_option_and_argument_says_what_it_is(path: tuple[str, ...]) -> None:
    for action in TREE[path]._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        name = action.option_strings[-1] if action.option_strings else action.dest
        if action.help == argparse.SUPPRESS:
            assert (path[-1], name) in HIDDEN
            continue
        assert action.help, f"switchyard {' '.join(path)} {name}: no help text"


def setting_paths() -> set[str]:
    """Every ``section.key`` of the settings."""
    from pydantic import BaseModel

    from switchyard.settings import Settings

    return {f"{section}.{key}" for section, field in Settings.model_fields.items()
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
            for key in field.annotation.model_fields}


def test_option_help_naming_a_setting_names_its_variable() -> None:
    """``--service-workers`` (default: the setting service.workers) says which variable
    sets it: SWITCHYARD_SERVICE__WORKERS."""
    from switchyard.cli.base import env_name

    known = setting_paths()
    missing, seen = [], 0
    for path, p in TREE.items():
        for action in p._actions:
            help_text = action.help or ""
            for name in set(re.findall(r"\b[a-z_]+\.[a-z_]+\b", help_text)) & known:
                seen += 1
                if env_name(name) not in help_text:
                    missing.append(f"switchyard {' '.join(path)} {action.option_strings or action.dest}: {name}")
    assert seen, "no option help names a setting: the pattern is wrong"
    assert missing == []


@pytest.mark.parametrize("name", ["bench", "hops"])
def test_private_stack_commands_say_settings_still_apply(name: str) -> None:
    assert "SWITCHYARD_<SECTION>__<KEY>" in (TREE[(name,)].epilog or "")


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_script_answers_help(script: str, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    module, _, function = SCRIPTS[script].partition(":")
    run = getattr(importlib.import_module(module), function)
    monkeypatch.setattr(sys, "argv", [script, "--help"])
    with pytest.raises(SystemExit) as exited:
        run() if script != "switchyard" else run(["--help"])
    assert exited.value.code == 0
    # An old name is exactly `switchyard <command>`: the same parser, the same usage line.
    expected = "switchyard" if script == "switchyard" else f"switchyard {script.removeprefix('switchyard-')}"
    assert capsys.readouterr().out.startswith(f"usage: {expected} ")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"switchyard {importlib.metadata.version('switchyard')}\n"
    import switchyard

    assert switchyard.__version__ == importlib.metadata.version("switchyard")


def test_python_m_switchyard_is_the_command() -> None:
    done = subprocess.run([sys.executable, "-m", "switchyard", "--help"], capture_output=True, text=True,
                          timeout=60, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: switchyard ")


def test_help_imports_nothing_heavy() -> None:
    """--help of every command loads argparse-level modules only: no pydantic, Kafka
    client, HTTP client, catalogue or stack (each command imports those when it runs)."""
    probe = ("import json, sys\nfrom switchyard.cli.main import main, parser\n"
             "for argv in ([], *([w for w in c.split()] for c in sys.argv[1:])):\n"
             "    try:\n        main([*argv, '--help'])\n    except SystemExit:\n        pass\n"
             "print(json.dumps(sorted(sys.modules)))")
    paths = [" ".join(path) for path in TREE if path]
    done = subprocess.run([sys.executable, "-c", probe, *paths], capture_output=True, text=True, timeout=60,
                          check=True, cwd=ROOT)
    loaded = json.loads(done.stdout.splitlines()[-1])
    # The installed packages' command modules (entry points) are argparse-level too.
    plugins = {"bench", "faults", "producers", "streams"}
    commands = [m for m in loaded if m in plugins or (m.split(".")[0] in plugins and m.endswith(".commands"))]
    heavy = [m for m in loaded if m not in commands and (
             m.split(".")[0] in {"pydantic", "pydantic_settings", "confluent_kafka", "httpx",
                                 "schemas", "handlers", "streams", "producers", "bench", "faults"}
             or m.startswith(("switchyard.stack", "switchyard.core", "switchyard.ops", "switchyard.faults")))]
    assert heavy == []
    assert {"bench.commands", "faults.commands", "producers.commands", "streams.commands"} <= set(commands)


@pytest.mark.parametrize(("name", "value"), [
    ("SWITCHYARD_SERVICE__BIND", "nonsense"),
    ("SWITCHYARD_KAFKA__BOOTSTRAP_SERVER", "x:1"),  # a typo of BOOTSTRAP_SERVERS
    ("SWITCHYARD_NO_SUCH_SECTION", "1"),
])
def test_a_bad_setting_is_one_line_naming_the_variable_and_exit_2(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["status"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    [line] = out.err.splitlines()
    assert line.startswith(f"switchyard: error: {name}")


def test_a_bad_setting_from_the_installed_script_has_no_traceback() -> None:
    env = {"PATH": "/usr/bin:/bin", "SWITCHYARD_SERVICE__BIND": "nonsense"}
    done = subprocess.run([Path(sys.executable).parent / "switchyard", "down"], capture_output=True, text=True,
                          timeout=60, check=False, env=env, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr == ("switchyard: error: SWITCHYARD_SERVICE__BIND='nonsense': Value error, expected "
                           "host:port, got 'nonsense'\n")


@pytest.mark.parametrize(("argv", "says"), [
    (["produce", "--keys", "x", "social-media-posts"], "argument --keys: invalid int value: 'x'"),
    (["produce", "nope", "--key", "k", "--value", "{}"], "topic: unknown input topic 'nope'; known: "),
    (["produce", "social-media-posts"], "produce: give --key and --value, --file FILE"),
    (["resume", "--topic", "nope"], "topic: unknown input topic 'nope'"),
    (["nope"], "argument COMMAND: invalid choice: 'nope'"),
    (["submit", "resize", "--delay", "soon"], "argument --delay: delay 'soon': expected a number"),
    (["dlq", "replay", "bench-events"], "replay: give --all or --from N --to M (not both)"),
    (["bench", "--only", "nope"], "--only: unknown scenario(s) nope"),
    (["bench", "--only", "workflow,latency"], "--only: latency runs within a system's comparison"),
    (["bench", "--only", "raw,capacity"], "--only: capacity runs within a system's comparison: add one of faust"),
    (["bench", "--restate-env", "X=1"], "--restate-env: expected RESTATE_NAME=VALUE, got X"),
    (["faults", "--only", "nope"], "--only: unknown 'nope'; known: service, "),
    (["faults", "--rate", "0"], "--rate: must be above 0, got 0"),
    (["faults", "--rate", "nan"], "--rate: must be above 0, got nan"),
    (["faults", "--keys", "-3"], "--keys: must be above 0, got -3"),
    (["faults", "--downtime", "-1"], "--downtime: must be above 0, got -1"),
])
def test_usage_errors_are_one_line_and_exit_2(argv: list[str], says: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exited:  # argparse's own checks end it there
        code = int(exited.code or 0)
    assert code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"switchyard: error: {says}"), line


@pytest.mark.parametrize("spec", USAGE_ERRORS)
def test_each_usage_error_names_an_exception_class(spec: str) -> None:
    module, _, name = spec.partition(":")
    assert issubclass(getattr(importlib.import_module(module), name), Exception)


def test_lists_in_help_match_their_sources() -> None:
    """What --help lists without importing its source (that would cost the import)."""
    from bench.commands import BENCH, LOG_LEVELS
    from bench.plan import SCENARIOS as BENCH_SCENARIOS
    from faults import commands as faults
    from faults.suite import SCENARIOS as FAULT_SCENARIOS
    from switchyard.core.settings import LogLevel
    from switchyard.ops.load import HOT_FRACTION, HOT_SHARE

    assert tuple(FAULT_SCENARIOS) == faults.SCENARIOS
    assert get_args(get_args(LogLevel)[0]) == LOG_LEVELS
    assert f"Scenarios: {', '.join(BENCH_SCENARIOS)}." in BENCH
    skew = next(a for a in TREE[("load",)]._actions if a.dest == "skew")
    assert skew.help == f"hot: {HOT_FRACTION:.0%}% of the keys take {HOT_SHARE:.0%}% of the records"
