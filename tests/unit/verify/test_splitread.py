"""Reading a folder in two processes gives what reading it in one gives, and leaves no process.

Covers: the same inventory (objects, order, problems) from a folder with broken, non-UTF-8 and
PyYAML-only files (dates, which marshal cannot carry); an unreadable file raising the same
error whichever process met it first; a child that dies or delivers nothing; and the child
being gone after every call, and when its parent is killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tenantctl.emit import kustomize
from tenantctl.render.bundle import render
from tenantctl.spec.reading import read_tenantset
from tenantctl.verify import manifests, splitread

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "tenants.yaml"


@pytest.fixture
def always_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split even a short list, on any machine (the outcome must not depend on it)."""
    monkeypatch.setattr(splitread, "MIN_ITEMS", 0)
    monkeypatch.setattr(splitread, "can_fork", lambda: True)


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


def _one_process(folder: Path) -> manifests.Inventory:
    saved = splitread.can_fork
    splitread.can_fork = lambda: False  # type: ignore[assignment]
    try:
        return manifests.from_folder(folder)
    finally:
        splitread.can_fork = saved  # type: ignore[assignment]


def test_two_processes_read_the_same_inventory_as_one(tree: Path, always_split: None) -> None:
    before = _children()
    split = manifests.from_folder(tree)
    assert _children() == before
    alone = _one_process(tree)
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


def test_an_item_the_child_cannot_read_raises_as_in_one_process(always_split: None) -> None:
    items = [f"item{n}" for n in range(10)]

    def read_one(item: str) -> str:
        if item == "item7":
            raise FileNotFoundError(2, "No such file or directory", item)
        return item.upper()

    with pytest.raises(FileNotFoundError) as raised:
        splitread.read_all(items, read_one)
    assert raised.value.filename == "item7"


def test_what_the_child_does_not_deliver_the_parent_reads(always_split: None) -> None:
    parent = os.getpid()
    items = [f"item{n}" for n in range(10)]

    def read_one(item: str) -> str:
        if os.getpid() != parent and item == "item6":
            os._exit(3)  # the child dies half-way, having sent nothing
        return item.upper()

    before = _children()
    assert splitread.read_all(items, read_one) == [item.upper() for item in items]
    assert _children() == before


def test_the_parent_reading_its_part_raises_first_and_the_child_is_gone(
    always_split: None,
) -> None:
    items = [f"item{n}" for n in range(10)]
    before = _children()

    def read_one(item: str) -> str:
        if item in ("item1", "item8"):
            raise PermissionError(13, "Permission denied", item)
        return item

    with pytest.raises(PermissionError) as raised:
        splitread.read_all(items, read_one)
    assert raised.value.filename == "item1"
    assert _children() == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_child_dies_with_its_parent(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, sys, time
            from tenantctl.verify import splitread
            splitread.MIN_ITEMS = 0
            splitread.can_fork = lambda: True
            parent = os.getpid()

            def read_one(item):
                if os.getpid() != parent:
                    print(os.getpid(), flush=True)
                    while True:
                        time.sleep(1)
                while True:
                    time.sleep(1)

            splitread.read_all(["a", "b"], read_one)
            """
        )
    )
    with subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    ) as parent:
        try:
            assert parent.stdout is not None
            child = int(parent.stdout.readline())
            parent.send_signal(signal.SIGKILL)
            parent.wait()
            deadline = time.monotonic() + 30
            while _alive(child):  # the kernel's signal is asynchronous: wait for its effect
                assert time.monotonic() < deadline, "the child outlived its parent"
                time.sleep(0.05)
        finally:
            if parent.poll() is None:
                parent.kill()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_short_list_or_a_single_core_reads_in_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked"))
    assert splitread.read_all(["a", "b"], str.upper) == ["A", "B"]
    if hasattr(os, "sched_getaffinity"):
        monkeypatch.setattr(splitread, "MIN_ITEMS", 0)
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
        assert splitread.read_all(["a", "b"], str.upper) == ["A", "B"]


def test_checks_beside_the_network_analysis_give_the_same_verification_in_a_child(
    tree: Path, always_split: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantctl.verify import expectations, static

    tenantset = read_tenantset(EXAMPLE)
    inventory = manifests.from_folder(tree)
    wanted = expectations.from_tenantset(tenantset)

    def verify() -> object:
        return static.verify_inventory(inventory, wanted, tenantset=tenantset)

    monkeypatch.setattr(static, "SPLIT_FROM_OBJECTS", 0)
    before = _children()
    split = verify()
    assert _children() == before
    monkeypatch.setattr(static, "SPLIT_FROM_OBJECTS", sys.maxsize)
    assert split == verify()
    assert not split.ok  # the broken files: a failing run, with details, crosses over too


def test_a_busy_machine_computes_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity here")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "getloadavg", lambda: (2.5, 2.5, 2.5))
    assert not splitread.can_fork()
    monkeypatch.setattr(os, "getloadavg", lambda: (0.7, 0.7, 0.7))
    assert splitread.can_fork()


def test_a_fork_the_system_refuses_computes_in_this_process(
    always_split: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refuse)
    assert splitread.read_all(["a", "b", "c"], str.upper) == ["A", "B", "C"]
