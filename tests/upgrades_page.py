"""docs/upgrades.md read as its tests read it: its ```python blocks by their `# example:`
name, the module each handler block runs in, the outcome each says its replay has, and
the table of what checks which (tests/unit and tests/integration test_upgrades_page.py)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "upgrades.md"
BASE = "replay-v1"  # the module every handler block's `remind` replaces
HANDLER = "@reminder.handler()\n"
MISMATCH = "journal mismatch"


@dataclass(frozen=True)
class Example:
    name: str
    code: str  # the block, its `# example:` line included
    replayed: str | None  # what a sleeping `replay-v1` (or `gate-v1`) invocation ends in on this code
    new: str | None  # what a new invocation on this code answers, where the block says

    @property
    def handler_block(self) -> bool:
        """A new `remind` for `replay-v1`'s module (not a module of its own)."""
        return self.name != BASE and HANDLER in self.code

    @property
    def before(self) -> str:
        """The example whose sleeping invocation the integration test replays on this one."""
        return "gate-v1" if self.name == "gate-v2" else BASE


def python_blocks(text: str) -> list[str]:
    blocks: list[str] = []
    body: list[str] | None = None
    for line in text.splitlines(keepends=True):
        if body is None and line.rstrip() == "```python":
            body = []
        elif body is not None and line.rstrip() == "```":
            blocks.append("".join(body))
            body = None
        elif body is not None:
            body.append(line)
    assert body is None, "a python block is never closed"
    return blocks


def outcome(code: str, label: str) -> str | None:
    """The answer (a JSON string on the page) or MISMATCH that a `# <label>: ...` line names."""
    found = re.findall(rf"^# {label}: (.+)$", code, flags=re.M)
    if not found:
        return None
    [said] = found
    return MISMATCH if said == MISMATCH else str(json.loads(said))


def examples(text: str | None = None) -> dict[str, Example]:
    found: dict[str, Example] = {}
    for block in python_blocks(PAGE.read_text() if text is None else text):
        match = re.match(r"# example: ([a-z0-9-]+)\n", block)
        assert match, f"a python block that names no example: {block.splitlines()[0]!r}"
        name = match[1]
        assert name not in found, f"example {name} twice"
        found[name] = Example(name, block, outcome(block, "replayed"), outcome(block, "new"))
    return found


def module(example: Example, found: dict[str, Example]) -> str:
    """The code the example runs as: itself, or `replay-v1`'s module with its `remind`."""
    if not example.handler_block:
        return example.code
    base = found[BASE].code
    return base[: base.index(HANDLER)] + example.code


def table(text: str | None = None) -> dict[str, str]:
    """The table of "What checks this page": example -> its "checked by" cell."""
    text = PAGE.read_text() if text is None else text
    rows = re.findall(r"^\| `([a-z0-9-]+)` \|.*\| ([a-z, ]+) \|$", text, flags=re.M)
    return dict(rows)
