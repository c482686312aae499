"""Texts worked out on two cores by a forked child (tenantctl.emit.forking) are exactly the texts
of one process (the forking itself, its safety and the free-core test are tenantctl.secondcore's,
tested in tests/unit/test_secondcore.py).

Aspects: above the threshold the halves join, in order, into the one-process result, the second
from a child; too few items or no free core means no fork; the Kustomize tree made from the spec
on two cores is the tree made from one rendering; files written and hashed on two cores are those
of one process, and a write error in the child's half is raised by the parent, with its path.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tenantctl import interrupts, secondcore
from tenantctl.emit import forking, kustomize, ownership, staging
from tenantctl.render.bundle import render
from tenantctl.spec.reading import read_tenantset

REPO = Path(__file__).resolve().parents[2]
ITEMS = list(range(500))


def _texts(items: Sequence[int]) -> list[str]:
    return [f"item {item}: {'é' * (item % 3)}\n" for item in items]


def _all_reaped(pids: list[int]) -> bool:
    """Every child in ``pids`` was reaped already. Only these: in a full run the suite's own
    control plane (tools/localcluster) is a child of this process too."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        return False
    return True


def test_texts_gives_the_one_process_result_above_the_threshold(
    forking_allowed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = os.getpid()

    def tagged(items: Sequence[int]) -> list[str]:
        return [f"{text} {os.getpid() == parent}" for text in _texts(items)]

    monkeypatch.setattr(forking, "MIN_ITEMS", 10)
    assert forking.texts(_texts, ITEMS) == _texts(ITEMS)
    assert forking.texts(tagged, ITEMS, child_share=0.2) == [
        f"{text} {index < 400}" for index, text in enumerate(_texts(ITEMS))
    ]
    assert len(forking_allowed) == 2 and _all_reaped(forking_allowed)


def test_no_fork_below_the_threshold_or_without_a_free_core(
    forking_allowed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forking, "MIN_ITEMS", len(ITEMS) + 1)
    assert forking.texts(_texts, ITEMS) == _texts(ITEMS)
    monkeypatch.setattr(forking, "MIN_ITEMS", 10)
    monkeypatch.setattr(secondcore, "available", lambda: False)
    assert forking.texts(_texts, ITEMS) == _texts(ITEMS)
    assert not forking_allowed


@pytest.mark.parametrize("spec", ["tenants.yaml", "openshell-file-allowlist.yaml"])
def test_the_tree_from_the_spec_on_two_cores_is_the_tree_of_one_rendering(
    spec: str, forking_allowed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    tenantset = read_tenantset(REPO / "examples" / spec)
    monkeypatch.setattr(forking, "MIN_ITEMS", 2)
    two = kustomize.spec_tree_files(tenantset)
    assert len(forking_allowed) == 1
    monkeypatch.setattr(forking, "MIN_ITEMS", sys.maxsize)
    assert two == kustomize.tree_files(render(tenantset))


def _example_files() -> dict[str, str]:
    return kustomize.tree_files(render(read_tenantset(REPO / "examples" / "tenants.yaml")))


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_files_written_and_hashed_on_two_cores_are_those_of_one_process(
    tmp_path: Path, forking_allowed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _example_files()
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    with interrupts.handled():  # as generate runs it (and no interrupt left from another test)
        monkeypatch.setattr(forking, "MIN_ITEMS", sys.maxsize)
        one = staging.write_files(tmp_path / "one", files)
        monkeypatch.setattr(forking, "MIN_ITEMS", 2)
        two = staging.write_files(tmp_path / "two", files)

    assert two == one == {path: ownership.digest_text(text) for path, text in files.items()}
    assert _tree(tmp_path / "two") == _tree(tmp_path / "one")
    assert len(forking_allowed) == 1 and _all_reaped(forking_allowed)


def test_a_write_error_in_the_childs_half_is_raised_by_the_parent_with_its_path(
    tmp_path: Path, forking_allowed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _example_files()
    last = list(files)[-1]  # written by the child
    (tmp_path / last).mkdir(parents=True)  # a folder where the file should go
    monkeypatch.setattr(forking, "MIN_ITEMS", 2)

    with interrupts.handled(), pytest.raises(IsADirectoryError) as raised:
        staging.write_files(tmp_path, files)

    assert raised.value.filename == f"{tmp_path}/{last}"
    assert len(forking_allowed) == 1 and _all_reaped(forking_allowed)
