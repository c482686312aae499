"""Part of a list computed by a forked child (tenantctl.secondcore) gives what one process gives,
raises what one process raises, and never leaves a process behind.

Aspects: the parts join in order, the later one computed by another process, plain data and
what only pickle carries crossing over; an item that fails in the child raises in the parent,
at the same item, and the parent's own part raises first; a child that exits, is killed or is
signalled alone, or a hand-over that does not decode, leaves its part to the parent, with the
same result; SIGINT or SIGTERM to the parent mid-work (computing or waiting), or Ctrl-C to both,
gives the parent's usual exception and no child; a signal reaching the child right after the
fork never runs the parent's handler there; a parent killed outright takes its child with it;
no fork with SIGCHLD ignored, another thread, no in-memory file or a fork the system refuses;
a core is free when fewer tasks run than there are cores, and one core never is; no other module
of generator/ or gateway/ forks.
"""

from __future__ import annotations

import ast
import datetime
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from polling import wait_until
from tenantctl import interrupts, secondcore

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the child is forked only on Linux"
)

ITEMS = [f"item{n}" for n in range(10)]
REPO = Path(__file__).resolve().parents[2]


def _upper(items: Sequence[str]) -> list[str]:
    return [item.upper() for item in items]


def _children() -> set[int]:
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        pids.update(int(pid) for pid in (task / "children").read_text().split())
    return pids


def _state(pid: int) -> str:
    """The process's state letter (``R``, ``S``, ``Z``...), ``X`` once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return "X"


def _gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie nobody reaped yet counts as ended)."""
    return _state(pid) in {"Z", "X"}


@pytest.fixture(autouse=True)
def leaves_no_child(lingering_threads_ignored: None) -> Iterator[None]:
    before = _children()
    yield
    assert _children() == before


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    ends = os.pipe()
    yield ends
    for fd in ends:
        os.close(fd)


def test_the_parts_join_in_order_the_later_one_from_another_process() -> None:
    parent = os.getpid()

    def tagged(items: Sequence[str]) -> list[tuple[str, bool]]:
        return [(item, os.getpid() == parent) for item in items]

    assert secondcore.split(tagged, ITEMS, parent_takes=4) == [
        (item, index < 4) for index, item in enumerate(ITEMS)
    ]


def test_what_only_pickle_carries_crosses_over() -> None:
    def dated(items: Sequence[str]) -> list[object]:
        return [{"when": datetime.date(2001, 12, 14 + len(item))} for item in items]

    assert secondcore.split(dated, ITEMS, parent_takes=3) == dated(ITEMS)


def test_an_item_failing_in_the_child_raises_in_the_parent_at_the_same_item() -> None:
    def read(items: Sequence[str]) -> list[str]:
        for item in items:
            if item in ("item7", "item9"):
                raise FileNotFoundError(2, "No such file or directory", item)
        return _upper(items)

    with pytest.raises(FileNotFoundError) as raised:
        secondcore.split(read, ITEMS, parent_takes=4)
    assert raised.value.filename == "item7"


def test_the_parents_own_part_raises_first() -> None:
    def read(items: Sequence[str]) -> list[str]:
        for item in items:
            if item in ("item1", "item8"):
                raise PermissionError(13, "Permission denied", item)
        return _upper(items)

    with pytest.raises(PermissionError) as raised:
        secondcore.split(read, ITEMS, parent_takes=4)
    assert raised.value.filename == "item1"


@pytest.mark.parametrize("death", ["raise", "exit", "kill"])
def test_a_child_that_fails_or_dies_leaves_its_part_to_the_parent(death: str) -> None:
    parent = os.getpid()

    def dying(items: Sequence[str]) -> list[str]:
        if os.getpid() != parent:
            if death == "raise":
                raise RuntimeError("only the child fails")
            if death == "exit":
                os._exit(3)
            os.kill(os.getpid(), signal.SIGKILL)
        return _upper(items)

    assert secondcore.split(dying, ITEMS, parent_takes=4) == _upper(ITEMS)


def test_a_child_signalled_alone_leaves_its_part_to_the_parent(pipe: tuple[int, int]) -> None:
    parent = os.getpid()
    started = pipe

    def signalled(items: Sequence[str]) -> list[str]:
        if os.getpid() != parent:
            os.write(started[1], f"{os.getpid()}\n".encode())
            signal.pause()  # only a signal ends this
        elif items[0] == "item0":  # the parent's own part, before it computes the child's
            os.kill(int(os.read(started[0], 64)), signal.SIGTERM)
        return _upper(items)

    with interrupts.handled():  # the parent's handlers must not matter to the child
        assert secondcore.split(signalled, ITEMS, parent_takes=4) == _upper(ITEMS)


@pytest.mark.parametrize("written", [[], [b"M"], [b"M", b"\xff"], [b"P", b"junk"], [b"M", b"N"]])
def test_a_hand_over_that_does_not_decode_leaves_its_part_to_the_parent(
    written: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(secondcore, "_encode", lambda results: written)  # the child's copy too
    assert secondcore.split(_upper, ITEMS, parent_takes=4) == _upper(ITEMS)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_parent_while_it_computes_interrupts_it_and_ends_the_child(
    signum: signal.Signals, pipe: tuple[int, int]
) -> None:
    parent = os.getpid()
    started = pipe
    children: list[int] = []

    def interrupted(items: Sequence[str]) -> list[str]:
        if os.getpid() != parent:
            os.write(started[1], f"{os.getpid()}\n".encode())
            signal.pause()
        children.append(int(os.read(started[0], 64)))
        os.kill(parent, signum)
        interrupts.check()
        return _upper(items)

    with interrupts.handled(), pytest.raises(interrupts.Interrupted) as raised:
        secondcore.split(interrupted, ITEMS, parent_takes=4)
    assert raised.value.signum == signum
    assert children and _gone(children[0])


def test_a_signal_to_the_parent_while_it_waits_for_the_child_interrupts_it(
    pipe: tuple[int, int],
) -> None:
    parent = os.getpid()
    started = pipe

    def waited_for(items: Sequence[str]) -> list[str]:
        if os.getpid() != parent:
            # The parent's part is quick; once it sleeps, it is waiting for this child.
            wait_until(lambda: _state(parent) == "S", describe="the parent to wait")
            os.write(started[1], f"{os.getpid()}\n".encode())
            os.kill(parent, signal.SIGTERM)
            signal.pause()
        return _upper(items)

    with interrupts.handled(), pytest.raises(interrupts.Interrupted) as raised:
        secondcore.split(waited_for, ITEMS, parent_takes=4)
    assert raised.value.signum == signal.SIGTERM
    assert _gone(int(os.read(started[0], 64)))


def test_ctrl_c_to_both_ends_the_child_and_interrupts_the_parent(pipe: tuple[int, int]) -> None:
    parent = os.getpid()
    started = pipe
    children: list[int] = []

    def interrupted_everywhere(items: Sequence[str]) -> list[str]:
        if os.getpid() != parent:
            os.write(started[1], f"{os.getpid()}\n".encode())
            signal.pause()
        children.append(int(os.read(started[0], 64)))
        for pid in (children[0], parent):  # what a terminal's Ctrl-C does to the process group
            os.kill(pid, signal.SIGINT)
        interrupts.check()
        return _upper(items)

    with interrupts.handled(), pytest.raises(interrupts.Interrupted):
        secondcore.split(interrupted_everywhere, ITEMS, parent_takes=4)
    assert children and _gone(children[0])


# Signals sent to a child by itself the moment it is forked, before secondcore's code runs.
_AT_FORK: list[int] = []
os.register_at_fork(after_in_child=lambda: [os.kill(os.getpid(), s) for s in _AT_FORK])


def test_a_signal_right_after_the_fork_never_runs_the_parents_handler_in_the_child(
    pipe: tuple[int, int],
) -> None:
    ran_in = pipe

    def handler(signum: int, frame: object) -> None:
        os.write(ran_in[1], f"{os.getpid()}\n".encode())
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    _AT_FORK.append(signal.SIGTERM)
    try:
        result = secondcore.split(_upper, ITEMS, parent_takes=4)
    finally:
        _AT_FORK.clear()
        signal.signal(signal.SIGTERM, previous)
    assert result == _upper(ITEMS)  # the child ended by SIGTERM's default action
    os.set_blocking(ran_in[0], False)
    with pytest.raises(BlockingIOError):
        os.read(ran_in[0], 64)  # the handler never ran, in either process


def test_the_child_dies_with_a_parent_killed_outright(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, signal
        from tenantctl import secondcore

        parent = os.getpid()
        ready_read, ready_write = os.pipe()

        def compute(items):
            if os.getpid() != parent:
                print(os.getpid(), flush=True)
                os.write(ready_write, b"x")
                signal.pause()  # only a signal ends the child
            os.read(ready_read, 1)  # the child is running and has said its pid
            os.kill(parent, signal.SIGKILL)

        secondcore.split(compute, [1, 2], parent_takes=1)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    ) as process:
        assert process.stdout is not None
        child = int(process.stdout.readline())
        try:
            assert process.wait(timeout=60) == -signal.SIGKILL
            wait_until(lambda: _gone(child), describe=f"the orphaned child {child} to end")
        finally:
            if not _gone(child):
                os.kill(child, signal.SIGKILL)  # never leave it behind, even when the test fails


def _must_not_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked"))


def test_no_fork_with_sigchld_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    _must_not_fork(monkeypatch)
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        assert not secondcore.available()
        assert secondcore.split(_upper, ITEMS, parent_takes=4) == _upper(ITEMS)
    finally:
        signal.signal(signal.SIGCHLD, previous)


def test_no_fork_beside_another_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    _must_not_fork(monkeypatch)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not secondcore.available()
        assert secondcore.split(_upper, ITEMS, parent_takes=4) == _upper(ITEMS)
    finally:
        stop.set()
        other.join()


def test_no_fork_without_an_in_memory_file(monkeypatch: pytest.MonkeyPatch) -> None:
    _must_not_fork(monkeypatch)

    def refused(name: str, flags: int = 0) -> int:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(os, "memfd_create", refused)
    assert secondcore.split(_upper, ITEMS, parent_takes=4) == _upper(ITEMS)


def test_a_fork_the_system_refuses_computes_in_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refuse)
    with interrupts.handled():
        assert secondcore.split(_upper, ITEMS, parent_takes=4) == _upper(ITEMS)
        assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == set()  # nothing left blocked


def test_one_core_is_never_free(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert not secondcore.available()


@pytest.mark.parametrize(
    ("loadavg", "cores", "free"),
    [
        ("0.31 0.40 0.52 1/99 4242\n", 2, True),  # only this process runs
        ("2.36 2.41 2.01 3/99 7362\n", 2, False),  # two others hold both cores
        ("1.10 1.00 0.90 2/99 4242\n", 2, False),
        ("1.10 1.00 0.90 2/99 4242\n", 4, True),
        ("3.90 3.80 3.70 1/99 4242\n", 2, True),  # a minute's average: the past, not now
        ("0.31 0.40 0.52 1/99 4242\n", 1, False),  # one core: nothing to share
    ],
)
def test_a_core_is_free_when_fewer_tasks_run_than_there_are_cores(
    loadavg: str, cores: int, free: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "loadavg").write_text(loadavg)
    monkeypatch.setattr(secondcore, "LOADAVG", str(tmp_path / "loadavg"))
    assert secondcore.core_free(cores) is free


def test_without_a_load_figure_a_second_core_counts_as_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(secondcore, "LOADAVG", str(tmp_path / "missing"))
    assert secondcore.core_free(2)


def test_no_other_module_forks() -> None:
    home = REPO / "generator" / "tenantctl" / "secondcore.py"
    forking = []
    for folder in ("generator", "gateway"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path == home:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.Attribute):
                    names = [node.attr]
                elif isinstance(node, ast.Import | ast.ImportFrom):
                    names = [alias.name for alias in node.names] + [getattr(node, "module", "")]
                if {"fork", "forkpty", "register_at_fork", "multiprocessing"} & set(names):
                    forking.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not forking, "fork through tenantctl.secondcore"
