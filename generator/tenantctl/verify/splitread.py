"""Compute a long list in two processes when a second core is there to take part of it.

``verify --manifests`` of a 10,000-namespace tree spends half its time reading and parsing
53,000 files, one after the other, and then a second on checks that do not need the network
analysis. Here a forked child computes the later part of a list (the later half of the files;
every family of checks after the network analysis, in ``static``) and hands its results back
through a pipe (``marshal``, or ``pickle`` for what marshal cannot carry, such as the dates
PyYAML reads or check results), while the parent computes the earlier part.

Nothing in the outcome depends on it. Results come back in list order. Whatever the child did
not deliver (an item it could not compute, any failure, a crash, a kill) the parent computes
itself, so a failure is raised by the same item, with the same error, as in one process. The
child never outlives the parent: the kernel kills it when the parent dies (Linux's
``PR_SET_PDEATHSIG``), and the parent kills and reaps it on every way out. The child restores
the default SIGINT and SIGTERM actions and leaves with ``os._exit``: none of the parent's
handlers, buffers or exit code runs twice. With one core, a busy machine, threads running (a
fork copies just the calling one), or a short list, everything is computed in this process.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Below this many items a second process costs more than it saves.
MIN_ITEMS = 2000
# How far above "all cores but one busy" the load average may be and still leave one free
# enough to help (the load average lags and counts this process's own recent work).
BUSY_MARGIN = 0.5
# The parent's part of the list: a little under half, as it also unpacks the child's results.
PARENT_SHARE = 0.47

_MARSHAL, _PICKLE = b"M", b"P"
_LENGTH = 8  # bytes of the payload length that follows the format byte


def read_all(items: Sequence[str], read_one: Callable[[str], Result]) -> list[Result]:
    """``[read_one(item) for item in items]``, the later part computed in a child process when
    that can help; raises what that list comprehension would raise, at the same item.

    ``read_one``'s results must be plain data (what ``pickle`` can carry)."""
    if len(items) < MIN_ITEMS or not can_fork():
        return [read_one(item) for item in items]
    return map_split(items, read_one, parent_takes=int(len(items) * PARENT_SHARE))


def can_fork() -> bool:
    """A child can help: fork exists, no other thread runs (a fork copies only the calling
    one), and this process may run on two cores or more of which, judging by the last
    minute's load average, one is free. On a busy machine the child would only take turns
    with the parent, and its copy-on-write page faults would cost more than it saves."""
    if not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return cores >= 2 and os.getloadavg()[0] <= cores - 1 + BUSY_MARGIN


def map_split(
    items: Sequence[Item], call: Callable[[Item], Result], *, parent_takes: int
) -> list[Result]:
    """``[call(item) for item in items]``: this process computes the first ``parent_takes``
    items while a forked child computes the rest; what the child does not deliver is computed
    here, so any exception is raised by the same item as in one process. ``call``'s results
    must be what ``pickle`` can carry; the items are not sent anywhere (the child is a fork).
    """
    parent = os.getpid()
    try:
        read_end, write_end = os.pipe()
    except OSError:  # out of file descriptors: no child, then
        return [call(item) for item in items]
    try:
        pid = os.fork()
    except OSError:  # out of processes or memory: no child, then
        os.close(read_end)
        os.close(write_end)
        return [call(item) for item in items]
    if pid == 0:
        _child(parent, read_end, write_end, items[parent_takes:], call)
    os.close(write_end)
    try:
        mine = [call(item) for item in items[:parent_takes]]
        theirs: list[Result] = _collect(read_end)
    finally:
        os.close(read_end)
        _reap(pid)
    rest = [call(item) for item in items[parent_takes + len(theirs) :]]
    return mine + theirs + rest


def _child(
    parent: int,
    read_end: int,
    write_end: int,
    items: Sequence[Item],
    call: Callable[[Item], Any],
) -> NoReturn:
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        os.close(read_end)
        _die_with(parent)
        done = []
        for item in items:
            try:
                done.append(call(item))
            except Exception:  # the parent computes this item again and raises what it raises
                break
        payload = _pack(done)
        view = memoryview(payload)
        while view:
            view = view[os.write(write_end, view) :]
    finally:
        os._exit(0)


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when ``parent`` ends (Linux), and leave now if it
    already has."""
    if sys.platform.startswith("linux"):
        import ctypes

        set_parent_death_signal = 1  # PR_SET_PDEATHSIG, <linux/prctl.h>
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(set_parent_death_signal, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(0)


def _pack(done: list[Any]) -> bytes:
    try:
        body, kind = marshal.dumps(done), _MARSHAL
    except ValueError:  # a type marshal does not know, such as datetime.date
        try:
            body, kind = pickle.dumps(done, protocol=pickle.HIGHEST_PROTOCOL), _PICKLE
        except Exception:
            body, kind = marshal.dumps([]), _MARSHAL  # the parent reads every item itself
    return kind + len(body).to_bytes(_LENGTH, "big") + body


def _collect(read_end: int) -> list[Any]:
    """The child's results, or as many of them as arrived whole: none when the payload is cut
    short or does not decode."""
    chunks = []
    while chunk := os.read(read_end, 1 << 20):
        chunks.append(chunk)
    data = b"".join(chunks)
    kind, length, body = data[:1], data[1 : 1 + _LENGTH], memoryview(data)[1 + _LENGTH :]
    if len(length) != _LENGTH or int.from_bytes(length, "big") != len(body):
        return []
    try:
        found = marshal.loads(body) if kind == _MARSHAL else pickle.loads(body)
    except Exception:
        return []
    return found if isinstance(found, list) else []


def _reap(pid: int) -> None:
    """Make sure the child is gone: it has delivered or it never will."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
