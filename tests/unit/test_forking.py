"""Texts worked out on two cores by a forked child (tenantctl.emit.forking) are exactly the texts
of one process, and the child never outlives the parent.

Aspects: the halves join in order into the one-process result; a child that fails, is killed or
is signalled alone, or no in-memory file for the hand-over, leaves its half to the parent, with
the same result; an interrupt in the
parent (Ctrl-C reaching both) kills and reaps the child before it propagates; a parent killed
outright takes its child with it; too few items, SIGCHLD ignored, another thread running, or no
core free for the child (by /proc/loadavg) means no fork;
the Kustomize tree made from the spec on two cores is the tree made from one rendering; files
written and hashed on two cores are those of one process, and a write error in the child's half
is raised by the parent, with its path.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from tenantctl import interrupts
from tenantctl.emit import forking, kustomize, ownership, staging
from tenantctl.render.bundle import render
from tenantctl.spec.reading import read_tenantset

REPO = Path(__file__).resolve().parents[2]
ITEMS = list(range(500))


def _texts(items: Sequence[int]) -> list[str]:
    return [f"item {item}: {'é' * (item % 3)}\n" for item in items]


def _gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie nobody reaped yet counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in {"Z", "X"}


def _wait_for(condition: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _no_children_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_halves_join_into_the_one_process_result() -> None:
    assert forking._forked(_texts, ITEMS[:250], ITEMS[250:]) == _texts(ITEMS)
    assert _no_children_left()


@pytest.fixture
def free_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fork whatever else runs on the machine now (the tests must not depend on its load)."""
    monkeypatch.setattr(forking, "second_core_free", lambda cores: True)


@pytest.mark.usefixtures("free_cores")
def test_texts_gives_the_one_process_result_above_the_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(forking, "MIN_ITEMS", 10)
    assert forking.texts(_texts, ITEMS) == _texts(ITEMS)


def test_a_child_that_fails_leaves_its_half_to_the_parent() -> None:
    parent = os.getpid()

    def failing_in_the_child(items: Sequence[int]) -> list[str]:
        if os.getpid() != parent:
            raise RuntimeError("the child's half fails")
        return _texts(items)

    assert forking._forked(failing_in_the_child, ITEMS[:250], ITEMS[250:]) == _texts(ITEMS)
    assert _no_children_left()


def test_a_child_killed_outright_leaves_its_half_to_the_parent() -> None:
    parent = os.getpid()

    def killed_in_the_child(items: Sequence[int]) -> list[str]:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return _texts(items)

    assert forking._forked(killed_in_the_child, ITEMS[:250], ITEMS[250:]) == _texts(ITEMS)


def test_without_an_in_memory_file_one_process_does_it_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refused(name: str, flags: int = 0) -> int:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(os, "memfd_create", refused)
    assert forking._forked(_texts, ITEMS[:250], ITEMS[250:]) == _texts(ITEMS)
    assert _no_children_left()


def test_an_interrupt_in_the_parent_kills_and_reaps_the_child() -> None:
    parent = os.getpid()
    started, never = os.pipe(), os.pipe()

    def child_waits_forever(items: Sequence[int]) -> list[str]:
        if os.getpid() != parent:
            os.write(started[1], str(os.getpid()).encode() + b"\n")
            os.read(never[0], 1)  # nobody ever writes: only a kill ends this
            return _texts(items)
        child = int(os.read(started[0], 64).split(b"\n")[0])
        children.append(child)
        raise KeyboardInterrupt

    children: list[int] = []
    try:
        with pytest.raises(KeyboardInterrupt):
            forking._forked(child_waits_forever, ITEMS[:250], ITEMS[250:])
    finally:
        for fd in (*started, *never):
            os.close(fd)
    assert children and _gone(children[0])
    assert _no_children_left()


def test_ctrl_c_ends_the_child_and_interrupts_the_parent() -> None:
    parent = os.getpid()
    started, never = os.pipe(), os.pipe()
    children: list[int] = []

    def interrupted_everywhere(items: Sequence[int]) -> list[str]:
        if os.getpid() != parent:
            os.write(started[1], str(os.getpid()).encode() + b"\n")
            os.read(never[0], 1)
            return _texts(items)
        child = int(os.read(started[0], 64).split(b"\n")[0])
        children.append(child)
        for pid in (child, parent):  # what a terminal's Ctrl-C does to the process group
            os.kill(pid, signal.SIGINT)
        interrupts.check()
        return _texts(items)

    try:
        with interrupts.handled(), pytest.raises(interrupts.Interrupted):
            forking._forked(interrupted_everywhere, ITEMS[:250], ITEMS[250:])
    finally:
        for fd in (*started, *never):
            os.close(fd)
        with interrupts.handled():
            pass  # forget the interrupt, as a new command would
    assert children and _gone(children[0])
    assert _no_children_left()


def test_a_signal_to_the_child_alone_leaves_its_half_to_the_parent() -> None:
    parent = os.getpid()
    started, never = os.pipe(), os.pipe()

    def child_signalled(items: Sequence[int]) -> list[str]:
        if os.getpid() != parent:
            os.write(started[1], str(os.getpid()).encode() + b"\n")
            os.read(never[0], 1)
            return _texts(items)
        if not signalled:  # the first half; the parent then works out the second too
            signalled.append(int(os.read(started[0], 64).split(b"\n")[0]))
            os.kill(signalled[0], signal.SIGTERM)
        return _texts(items)

    signalled: list[int] = []

    try:
        result = forking._forked(child_signalled, ITEMS[:250], ITEMS[250:])
    finally:
        for fd in (*started, *never):
            os.close(fd)
    assert result == _texts(ITEMS)
    assert _no_children_left()


def test_the_child_dies_with_a_parent_killed_outright(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, signal, sys
        from tenantctl.emit import forking

        parent = os.getpid()
        ready_read, ready_write = os.pipe()

        def texts(items):
            if os.getpid() != parent:
                print(os.getpid(), flush=True)
                os.write(ready_write, b"x")
                signal.pause()  # only a signal ends the child
            os.read(ready_read, 1)  # the child is running and has said its pid
            os.kill(parent, signal.SIGKILL)

        forking._forked(texts, [1], [2])
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    assert process.stdout is not None
    child = int(process.stdout.readline())
    try:
        assert process.wait(timeout=60) == -signal.SIGKILL
        _wait_for(lambda: _gone(child), f"the orphaned child {child} to end")
    finally:
        if not _gone(child):
            os.kill(child, signal.SIGKILL)  # never leave it behind, even when the test fails
        process.stdout.close()


@pytest.mark.usefixtures("free_cores")
def test_no_fork_below_the_threshold_with_sigchld_ignored_or_beside_another_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def forbidden(*args: object) -> list[str]:
        raise AssertionError("forked")

    monkeypatch.setattr(forking, "_forked", forbidden)
    monkeypatch.setattr(forking, "MIN_ITEMS", len(ITEMS) + 1)
    assert forking.texts(_texts, ITEMS) == _texts(ITEMS)

    monkeypatch.setattr(forking, "MIN_ITEMS", 10)
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        assert forking.texts(_texts, ITEMS) == _texts(ITEMS)
    finally:
        signal.signal(signal.SIGCHLD, previous)

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert forking.texts(_texts, ITEMS) == _texts(ITEMS)
    finally:
        stop.set()
        other.join()


@pytest.mark.usefixtures("free_cores")
@pytest.mark.parametrize("spec", ["tenants.yaml", "openshell-file-allowlist.yaml"])
def test_the_tree_from_the_spec_on_two_cores_is_the_tree_of_one_rendering(
    spec: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenantset = read_tenantset(REPO / "examples" / spec)
    monkeypatch.setattr(forking, "MIN_ITEMS", 2)
    assert kustomize.spec_tree_files(tenantset) == kustomize.tree_files(render(tenantset))


def _example_files() -> dict[str, str]:
    return kustomize.tree_files(render(read_tenantset(REPO / "examples" / "tenants.yaml")))


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.usefixtures("free_cores")
def test_files_written_and_hashed_on_two_cores_are_those_of_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
    assert _no_children_left()


@pytest.mark.usefixtures("free_cores")
def test_a_write_error_in_the_childs_half_is_raised_by_the_parent_with_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _example_files()
    last = list(files)[-1]  # written by the child
    (tmp_path / last).mkdir(parents=True)  # a folder where the file should go
    monkeypatch.setattr(forking, "MIN_ITEMS", 2)

    with interrupts.handled(), pytest.raises(IsADirectoryError) as raised:
        staging.write_files(tmp_path, files)

    assert raised.value.filename == f"{tmp_path}/{last}"
    assert _no_children_left()


@pytest.mark.parametrize(
    ("loadavg", "cores", "free"),
    [
        ("0.31 0.40 0.52 1/99 4242\n", 2, True),  # only this process runs
        ("2.36 2.41 2.01 3/99 7362\n", 2, False),  # two others hold both cores
        ("1.10 1.00 0.90 2/99 4242\n", 2, False),
        ("1.10 1.00 0.90 2/99 4242\n", 4, True),
        ("0.31 0.40 0.52 1/99 4242\n", 1, False),  # one core: nothing to share
    ],
)
def test_a_core_is_free_when_fewer_tasks_run_than_there_are_cores(
    loadavg: str, cores: int, free: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "loadavg").write_text(loadavg)
    monkeypatch.setattr(forking, "LOADAVG", str(tmp_path / "loadavg"))
    assert forking.second_core_free(cores) is free


def test_without_a_load_figure_a_second_core_counts_as_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forking, "LOADAVG", str(tmp_path / "missing"))
    assert forking.second_core_free(2)
