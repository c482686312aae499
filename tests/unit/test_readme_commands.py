"""The README's first set-up command, `make demo`, run as a newcomer runs it (make is one of
the README's prerequisites, so a machine without it fails here rather than skipping)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.tools
def test_make_demo_generates_and_validates_the_bundled_example(tmp_path: Path) -> None:
    demo_out = tmp_path / "demo-out"
    for run in ("first", "second"):
        finished = subprocess.run(
            ["make", "--no-print-directory", "demo", f"DEMO_OUT={demo_out}"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert finished.returncode == 0, f"{run} run:\n{finished.stdout}\n{finished.stderr}"
        assert "objects in the output are valid" in finished.stderr
        assert (demo_out / "kustomization.yaml").is_file()
        assert (demo_out / ".tenantctl-generated.json").is_file()
