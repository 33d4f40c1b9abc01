"""The README's topic table, rendered from the catalogue (a unit test keeps them equal)."""

from __future__ import annotations

from schemas.catalogue import TOPICS

HEADER = "| topic | key | value schema | sink handler | results | dead letters |\n|---|---|---|---|---|---|"


def topics_table() -> str:
    rows = [
        f"| `{t.name}` | {t.key} | `{t.value.__module__}.{t.value.__name__}` | `{t.target}` | "
        f"`{t.results}` | `{t.dlq}` |"
        for t in TOPICS
    ]
    return "\n".join([HEADER, *rows])
