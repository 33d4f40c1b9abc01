"""The README's topic table is the catalogue's, not a copy that drifts."""

from pathlib import Path

from switchyard.ops.topics_table import BEGIN, END, readme_section

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_topic_table_matches_the_catalogue() -> None:
    text = README.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == readme_section(), "README topic table is stale: paste `switchyard topics` output"


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.read_text().split("```bash", 1)[1].split("```", 1)[0]
    assert [line.split()[:2] for line in first_block.strip().splitlines()] == [["make", "demo"], ["make", "test"]]


def test_every_relative_link_in_the_docs_points_to_a_file() -> None:
    import re

    root = README.parent
    broken = []
    for doc in [README, *sorted((root / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" not in target and not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(root)} -> {target}")
    assert not broken, f"links to missing files: {broken}"


def test_readme_handler_table_matches_the_app() -> None:
    from switchyard.ops import handlers_table

    text = README.read_text()
    start, end = text.index(handlers_table.BEGIN), text.index(handlers_table.END) + len(handlers_table.END)
    assert text[start:end] == handlers_table.readme_section(), \
        "README handler table is stale: paste `switchyard handlers` output"
