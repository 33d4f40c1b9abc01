"""The old command names: one console script per entry of the aliases' table, each the
module-level callable of its command's name."""

from __future__ import annotations

import tomllib
from pathlib import Path

from switchyard.cli import aliases

SCRIPTS = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]["scripts"]


def test_each_alias_script_runs_its_command() -> None:
    old = {name: target for name, target in SCRIPTS.items() if target.startswith("switchyard.cli.aliases:")}
    assert old == {f"switchyard-{c}": f"switchyard.cli.aliases:{c}" for c in aliases.COMMANDS}
    for command in aliases.COMMANDS:
        assert getattr(aliases, command).__name__ == command
