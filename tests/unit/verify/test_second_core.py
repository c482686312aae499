"""Verify reading a folder and running its checks with a second process gives what one process
gives (the forking itself is tenantctl.secondcore's, tested in tests/unit/test_secondcore.py).

Covers: the same inventory (objects, order, problems) from a folder with broken, non-UTF-8 and
PyYAML-only files (dates, which marshal cannot carry); a file the child cannot read raising the
same error as in one process; the same verification with the checks beside the network analysis
run in a child; and no child for a short list of files.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tenantctl import secondcore
from tenantctl.emit import kustomize
from tenantctl.render.bundle import render
from tenantctl.spec.reading import read_tenantset
from tenantctl.verify import manifests

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "tenants.yaml"


@pytest.fixture
def always_split(monkeypatch: pytest.MonkeyPatch, forking_allowed: list[int]) -> list[int]:
    """Split even a short list, on any machine (the outcome must not depend on it); the pids of
    the children forked, so a test knows that one was."""
    monkeypatch.setattr(manifests, "SPLIT_FROM_FILES", 0)
    return forking_allowed


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for relative, text in kustomize.tree_files(render(read_tenantset(EXAMPLE))).items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    extra = tmp_path / "zz-extra"
    extra.mkdir()
    (extra / "broken.yaml").write_text("kind: ConfigMap\nmetadata: [x\n")
    (extra / "latin1.yaml").write_bytes(b"kind: ConfigMap\nmetadata: {name: \xe9}\n")
    (extra / "dated.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dated, namespace: alpha-dev}\n"
        "data: {when: 2001-12-14, enabled: yes}\n"
    )
    return tmp_path


def _children() -> set[int]:
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        text = (task / "children").read_text()
        pids.update(int(pid) for pid in text.split())
    return pids


def test_two_processes_read_the_same_inventory_as_one(
    tree: Path, always_split: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _children()
    split = manifests.from_folder(tree)
    assert always_split and _children() == before
    monkeypatch.setattr(manifests, "SPLIT_FROM_FILES", sys.maxsize)
    alone = manifests.from_folder(tree)
    assert len(always_split) == 1
    assert split.by_kind == alone.by_kind
    assert list(split.by_kind) == list(alone.by_kind)
    assert split.problems == alone.problems
    assert [p.split(":")[0] for p in split.problems] == [
        "zz-extra/broken.yaml",
        "zz-extra/latin1.yaml",
    ]
    dated = [o for o in split.of_kind("ConfigMap") if o["metadata"]["name"] == "dated"]
    assert dated[0]["data"] == alone.of_kind("ConfigMap")[-1]["data"]
    assert dated[0]["data"]["enabled"] is True


def test_a_file_the_child_cannot_read_raises_as_in_one_process(always_split: list[int]) -> None:
    items = [f"item{n}" for n in range(10)]

    def read_one(item: str) -> str:
        if item == "item7":
            raise FileNotFoundError(2, "No such file or directory", item)
        return item.upper()

    with pytest.raises(FileNotFoundError) as raised:
        manifests.read_all(items, read_one)
    assert raised.value.filename == "item7"
    assert always_split


def test_a_short_list_or_no_free_core_reads_in_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked"))
    monkeypatch.setattr(secondcore, "available", lambda: True)
    assert manifests.read_all(["a", "b"], str.upper) == ["A", "B"]
    monkeypatch.setattr(manifests, "SPLIT_FROM_FILES", 0)
    monkeypatch.setattr(secondcore, "available", lambda: False)
    assert manifests.read_all(["a", "b"], str.upper) == ["A", "B"]


def test_checks_beside_the_network_analysis_give_the_same_verification_in_a_child(
    tree: Path, always_split: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantctl.verify import expectations, static

    tenantset = read_tenantset(EXAMPLE)
    inventory = manifests.from_folder(tree)
    wanted = expectations.from_tenantset(tenantset)

    def verify() -> object:
        return static.verify_inventory(inventory, wanted, tenantset=tenantset)

    monkeypatch.setattr(static, "SPLIT_FROM_OBJECTS", 0)
    before, forks = _children(), len(always_split)
    split = verify()
    assert len(always_split) == forks + 1 and _children() == before
    monkeypatch.setattr(static, "SPLIT_FROM_OBJECTS", sys.maxsize)
    assert split == verify()
    assert not split.ok  # the broken files: a failing run, with details, crosses over too
