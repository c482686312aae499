"""Code cites only what a reader of the repository can open.

Covers: no source file under generator/, gateway/, tools/, bench/ or tests/ cites the design
notes kept outside the repository or an issue ("the issue", "issue 6"); every
``docs/design.md §N`` a source file cites is a section docs/design.md has.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FOLDERS = ("generator", "gateway", "tools", "bench", "tests")
SUFFIXES = {".py", ".sh", ".j2", ".tpl"}
OUTSIDE = re.compile(r"DESIGN-NOTES|design notes|\bthe issue\b|\bissue \d+", re.IGNORECASE)
THIS_FILE = Path(__file__).resolve()


def sources() -> list[Path]:
    found = []
    for folder in FOLDERS:
        for path in sorted((REPO / folder).rglob("*")):
            skipped = ".tools" in path.parts or ".venv" in path.parts
            if path.suffix in SUFFIXES and not skipped and path.resolve() != THIS_FILE:
                found.append(path)
    return found


def test_no_source_cites_notes_or_issues_outside_the_repository() -> None:
    citing = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sources()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert citing == [], "cite docs/design.md §N (or another file here) instead:\n" + "\n".join(
        citing
    )


def test_every_cited_design_section_exists() -> None:
    sections = set(re.findall(r"^## (§\d+)", (REPO / "docs" / "design.md").read_text(), re.M))
    cited = {
        (section, str(path.relative_to(REPO)))
        for path in sources()
        for section in re.findall(r"docs/design\.md,?\s+(§\d+)", path.read_text(errors="replace"))
    }
    assert cited, "no source cites docs/design.md: this test reads nothing"
    assert sorted((s, where) for s, where in cited if s not in sections) == []
