"""docs/spec.md is generated from the JSON Schema and documents every field with an example."""

from __future__ import annotations

from pathlib import Path

from tenantctl.spec.reference import spec_reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "spec.md"


def test_the_committed_spec_reference_is_current() -> None:
    assert DOC.read_text() == spec_reference(), (
        "docs/spec.md is stale: run `python -m tenantctl.spec.reference > docs/spec.md`"
    )


def test_every_field_has_a_description_and_an_example() -> None:
    rows = [line for line in spec_reference().splitlines() if line.startswith("| `")]
    assert len(rows) > 100
    for row in rows:
        cells = [cell.strip() for cell in row.replace("\\|", "/").strip("|").split("|")]
        field, _type, _default, description, example = cells
        assert description, f"{field} has no description"
        assert example, f"{field} has no example"
