"""The terminal tools' plain-text tables."""

from __future__ import annotations

from switchyard.core.text import render_table


def test_columns_two_spaces_apart_figures_right_and_no_trailing_space() -> None:
    text = render_table(("name", "count", "note"), [("alpha", 5, "x"), ("b", 12345, "")], right={1})
    assert text.splitlines() == [
        "name   count  note",
        "alpha      5  x",
        "b      12345",
    ]


def test_cells_are_taken_literally_and_never_coloured() -> None:
    text = render_table(("reason",), [("[bold]int_parsing[/] :smile:",)])
    assert text.splitlines()[1] == "[bold]int_parsing[/] :smile:"
    assert "\x1b" not in text


def test_a_wide_table_is_not_wrapped() -> None:
    text = render_table(("a", "b"), [("x" * 300, "y" * 300)])
    assert len(text.splitlines()) == 2
