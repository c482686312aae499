"""Golden output: each example spec renders to exactly the files under tests/golden/<example>/.

``examples/tenants.yaml`` is pinned by the committed output at the repository root (see
test_generate.py); the other examples are pinned here. After an intended change, run
``pytest tests/unit/test_golden.py --update-golden`` and review the diff.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tenantctl.emit.fleet import fleet_output
from tenantctl.emit.kustomize import tree_files
from tenantctl.render.bundle import render
from tenantctl.spec.reading import read_tenantset

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"
EXAMPLES = sorted(p for p in (REPO / "examples").glob("*.yaml") if p.name != "tenants.yaml")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_the_example_renders_to_its_golden_files(
    example: Path, request: pytest.FixtureRequest
) -> None:
    tenantset = read_tenantset(example)
    if tenantset.fleet is not None:
        files = fleet_output(tenantset, "kustomize", None).files  # clusters/<name>/...
    else:
        files = tree_files(render(tenantset))
    golden = GOLDEN / example.stem
    if request.config.getoption("--update-golden"):
        shutil.rmtree(golden, ignore_errors=True)
        for relative, text in files.items():
            (golden / relative).parent.mkdir(parents=True, exist_ok=True)
            (golden / relative).write_text(text)
    expected = {
        str(path.relative_to(golden)): path.read_text()
        for path in sorted(golden.rglob("*"))
        if path.is_file()
    }
    assert sorted(files) == sorted(expected), "files differ: run with --update-golden and review"
    for relative, text in files.items():
        assert text == expected[relative], f"{relative} differs: run with --update-golden"
