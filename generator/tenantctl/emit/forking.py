"""Texts of many items on two cores: the second half worked out by a forked child process.

Writing the YAML text of 10,000 namespaces is the largest step of ``generate`` (about a second
of pure Python), and it is a pure function of the rendering, item by item. ``texts`` runs that
function over the first half of the items in this process and over the second half in a child
forked after rendering, which shares the rendering copy-on-write and hands back only bytes. The
child touches no file but an anonymous in-memory one (``memfd_create``); everything that
decides what is written, and every write, stays in the parent, so staging, ownership and the
all-or-nothing rules are those of one process.

The result is the same list either way, in the same order. Whenever the child cannot help (no
second core free at the start, another thread running, a platform without ``fork``,
``memfd_create`` or ``prctl``, or the child failing or dying for any reason) the parent works
out the second half itself: slower, never different.

The child never outlives the parent: it asks the kernel to kill it when the parent dies
(``PR_SET_PDEATHSIG``), and the parent kills and reaps it on every way out, an interrupt
included. SIGINT and SIGTERM are blocked across the fork, so no signal can reach either process
before it is ready for it: the child takes the default action (it ends) and the parent raises
its usual ``Interrupted`` once it is inside the block that cleans up.
"""

from __future__ import annotations

import os
import signal
import struct
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

_Item = TypeVar("_Item")

# Below this many items the fork and the hand-over cost more than the second core saves.
MIN_ITEMS = 2000
LOADAVG = "/proc/loadavg"  # its fourth field: tasks running now / tasks
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_COUNT = struct.Struct("<Q")
_READ_CHUNK = 1 << 20  # bytes decoded at a time: the parent never holds the child's whole output
_IOV_MAX = 1024


def texts(
    function: Callable[[Sequence[_Item]], list[str]],
    items: Sequence[_Item],
    *,
    child_share: float = 0.5,
) -> list[str]:
    """``function(items)``, worked out on two cores when that pays. ``function`` must work item
    by item, ``function(a + b) == function(a) + function(b)``, and may be run twice over the
    same items. ``child_share``: the part of the items the child takes (the parent has the
    hand-over to read besides)."""
    if not _worth_forking(len(items)):
        return function(items)
    split = len(items) - int(len(items) * child_share)
    return _forked(function, items[:split], items[split:])


def _worth_forking(count: int) -> bool:
    return (
        count >= MIN_ITEMS
        and hasattr(os, "fork")
        and hasattr(os, "memfd_create")
        and hasattr(os, "sched_getaffinity")
        and threading.active_count() == 1
        and threading.current_thread() is threading.main_thread()
        # With SIGCHLD ignored the kernel reaps the child itself, and its exit status is lost.
        and signal.getsignal(signal.SIGCHLD) != signal.SIG_IGN
        and second_core_free(len(os.sched_getaffinity(0)))
    )


def second_core_free(cores: int) -> bool:
    """Whether a second process of ours would have a core of its own right now: fewer tasks
    running than ``cores``, this one included (``/proc/loadavg``). When other work holds the
    cores, the child only shares them with this process, and its overhead (copy-on-write, the
    hand-over) lengthens the run instead of shortening it."""
    if cores < 2:
        return False
    try:
        with open(LOADAVG, "rb") as loadavg:
            running = int(loadavg.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return True  # nothing says the cores are taken
    return running < cores


def _forked(
    function: Callable[[Sequence[_Item]], list[str]],
    first: Sequence[_Item],
    second: Sequence[_Item],
) -> list[str]:
    parent = os.getpid()
    try:
        fd = os.memfd_create("tenantctl-texts", os.MFD_CLOEXEC)
    except OSError:  # no file descriptor left, or a sandbox that refuses the call
        return function(first) + function(second)
    try:
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            return function(first) + function(second)
        if pid == 0:
            _child(fd, function, second, parent, blocked)  # never returns
        reaped = False
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)  # a pending signal raises here
            result = function(first)
            _, status = os.waitpid(pid, 0)
            reaped = True
            theirs = _read(fd) if os.waitstatus_to_exitcode(status) == 0 else None
        finally:
            if not reaped:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
    finally:
        os.close(fd)
    result.extend(function(second) if theirs is None else theirs)
    return result


def _child(
    fd: int,
    function: Callable[[Sequence[_Item]], list[str]],
    items: Sequence[_Item],
    parent: int,
    blocked: set[int | signal.Signals],
) -> None:
    """Work out ``items``' texts into ``fd``, then end without running any of the parent's
    clean-up (``os._exit``): exit 0 when every text is in ``fd``, 1 otherwise."""
    code = 1
    try:
        for signum in _SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        if _die_with(parent):
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            _write(fd, function(items))
            code = 0
    except BaseException:  # the parent works the half out again: nothing to report from here
        pass
    finally:
        os._exit(code)


def _die_with(parent: int) -> bool:
    """Ask to be killed when the parent dies; False if that cannot be had or it is dead already."""
    import ctypes  # here: only a child needs it

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    return os.getppid() == parent  # the parent may have died before the request was made


def _write(fd: int, results: list[str]) -> None:
    """The count, each text's length in bytes, then the texts, UTF-8."""
    encoded = [text.encode("utf-8") for text in results]
    header = _COUNT.pack(len(encoded)) + struct.pack(f"<{len(encoded)}Q", *map(len, encoded))
    _write_all(fd, [header])
    for start in range(0, len(encoded), _IOV_MAX):
        _write_all(fd, encoded[start : start + _IOV_MAX])


def _write_all(fd: int, buffers: list[bytes]) -> None:
    expected = sum(map(len, buffers))
    if os.writev(fd, buffers) != expected:
        raise OSError("short write to the hand-over file")


def _read(fd: int) -> list[str] | None:
    """The child's texts, or None when the file is not what ``_write`` writes."""
    size = os.fstat(fd).st_size
    if size < _COUNT.size:
        return None
    (count,) = _COUNT.unpack(os.pread(fd, _COUNT.size, 0))
    header_size = _COUNT.size * (count + 1)
    if size < header_size:
        return None
    lengths = struct.unpack(f"<{count}Q", os.pread(fd, header_size - _COUNT.size, _COUNT.size))
    if header_size + sum(lengths) != size:
        return None
    result: list[str] = []
    offset = header_size
    index = 0
    try:
        while index < count:
            # Read whole texts, about a chunk at a time, and decode each from a view of it.
            end = index
            chunk_size = 0
            while end < count and (end == index or chunk_size + lengths[end] <= _READ_CHUNK):
                chunk_size += lengths[end]
                end += 1
            chunk = os.pread(fd, chunk_size, offset)
            if len(chunk) != chunk_size:
                return None
            view = memoryview(chunk)
            position = 0
            for length in lengths[index:end]:
                result.append(str(view[position : position + length], "utf-8"))
                position += length
            view.release()
            offset += chunk_size
            index = end
    except UnicodeDecodeError:
        return None
    return result
