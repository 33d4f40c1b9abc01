"""Plain-text tables for the terminal tools (`switchyard pipeline`, `switchyard dlq list`,
the fault suite's and the benchmark's reports), laid out by rich.

The core holds it because the stream workers' `pipeline` table (streams/) needs it too.
The text is plain whatever the output: no colour codes, no borders, columns two spaces
apart, the header first, no trailing spaces; tests and scripts read it by its words.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

_WIDE = 100_000  # never wrap: a table is as wide as its longest row


def render_table(headers: Sequence[str], rows: Iterable[Sequence[object]], right: Collection[int] = ()) -> str:
    """``rows`` under ``headers``, each cell as ``str()`` shows it, taken literally (no
    markup); the columns whose indices are in ``right`` (figures) aligned right."""
    table = Table(box=None, pad_edge=False, padding=(0, 1), show_edge=False, header_style="", highlight=False)
    for i, header in enumerate(headers):
        table.add_column(Text(header), justify="right" if i in right else "left", no_wrap=True)
    for row in rows:
        table.add_row(*(Text(str(cell)) for cell in row))
    out = io.StringIO()
    Console(file=out, width=_WIDE, color_system=None, force_terminal=False, highlight=False, markup=False,
            emoji=False).print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())
