"""Part of a long list computed by a forked child while a second core is free: the one home of
a forked helper process (``subprocess`` runs programs; this forks Python itself).

Verify reads thousands of files and runs families of checks; generate writes the text of
thousands of namespaces and the files themselves. Each is a pure function of its items, so a
child forked after the data is built (sharing it copy-on-write) can compute the later part while
this process computes the earlier one. ``split`` does that; ``available`` says whether it pays.

Nothing in the outcome depends on it. Results join in list order. Whatever the child does not
deliver whole (a failure, a crash, a kill, a hand-over that does not decode) this process
computes itself, after its own part, so an error is raised by the same item, with the same
exception, as in one process.

The hand-over is an anonymous in-memory file (``memfd_create``): the child writes its results
there and ends; exit status 0 says they are all there, and the parent decodes them from a
read-only mapping, without a copy. One format serves every caller: ``marshal``, or ``pickle``
for what marshal cannot carry (the dates PyYAML reads, dataclasses). Generate's texts once had a
format of their own (lengths, then UTF-8); on the texts and digests of 10,000 namespaces marshal
costs less on both sides (writing 36 MB of texts about 44 ms against 48, reading 28 against 36).

Process safety, every way out:
- Every signal with a Python handler (SIGINT and SIGTERM, through ``tenantctl.interrupts``) is
  blocked from just before ``fork`` until each process is ready for it: in the child a signal
  would otherwise run the parent's handler and raise through the parent's stack in the wrong
  process. The child sets those signals to their default action, asks the kernel to kill it
  when the parent dies (Linux's ``PR_SET_PDEATHSIG``), leaves at once if the parent is already
  gone, unblocks, computes, and ends with ``os._exit``: none of the parent's handlers, buffers,
  ``finally`` blocks or exit code runs twice.
- The parent unblocks inside a ``try`` whose ``finally`` kills (SIGKILL) and reaps the child,
  so an interrupt pending since the fork, or raised while it computes or waits, leaves no child.
- No fork where that cannot be kept: without ``fork``, ``memfd_create`` or Linux's
  parent-death signal; with another thread (a fork copies only the calling one, and a lock
  another thread held stays locked in the child) or off the main thread; with SIGCHLD ignored
  (the kernel would reap the child itself and its exit status, which says the hand-over is
  complete, is lost).

Whether a core is free (``core_free``): fewer tasks running at this instant than the cores this
process may use, counting itself (the fourth field of ``/proc/loadavg``). Not the load average:
it lags by a minute both ways (another benchmark that just started does not show yet, one that
just ended still does), and it counts this program's own children, so back-to-back runs that
fork push it over the threshold and then stop forking. With the cores taken the child would only
take turns with this process, and its copy-on-write faults and hand-over make the run longer.
"""

from __future__ import annotations

import contextlib
import marshal
import mmap
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

LOADAVG = "/proc/loadavg"  # its fourth field: tasks running now / tasks
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_IOV_MAX = 1024  # buffers per writev, the Linux limit
_MARSHAL, _PICKLE = b"M", b"P"


def _encode(results: list[Any]) -> list[bytes]:
    try:
        return [_MARSHAL, marshal.dumps(results)]
    except ValueError:  # a type marshal does not know, such as datetime.date or a dataclass
        return [_PICKLE, pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)]


def _decode(data: memoryview) -> list[Any]:
    """What ``_encode`` wrote; raises on anything else."""
    kind, body = data[:1], data[1:]
    found = marshal.loads(body) if kind == _MARSHAL else pickle.loads(body)
    if not isinstance(found, list):
        raise ValueError("the hand-over is not a list")
    return found


def available() -> bool:
    """A child can be forked safely (``split``'s conditions) and a core is free for it."""
    return _safe_to_fork() and core_free(len(os.sched_getaffinity(0)))


def core_free(cores: int) -> bool:
    """Whether a second process of ours would have a core of its own right now: fewer tasks
    running than ``cores``, this one included. Without the figure, nothing says they are taken."""
    if cores < 2:
        return False
    try:
        with open(LOADAVG, "rb") as loadavg:
            running = int(loadavg.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return True
    return running < cores


def split(
    compute: Callable[[Sequence[Item]], list[Result]],
    items: Sequence[Item],
    *,
    parent_takes: int,
) -> list[Result]:
    """``compute(items)``, with ``compute(items[parent_takes:])`` worked out by a forked child
    while this process works out ``compute(items[:parent_takes])``.

    ``compute`` must work item by item, ``compute(a + b) == compute(a) + compute(b)``, and may
    run twice over the same items (once in the child, again here if the child fails). Its
    results must be plain data (what ``pickle`` carries); the items are not sent anywhere (the
    child is a fork). Forks whenever it safely can, whatever the load: callers ask
    ``available`` first."""
    first, second = items[:parent_takes], items[parent_takes:]
    if not first or not second or not _safe_to_fork():
        return compute(items)
    try:
        fd = os.memfd_create("tenantctl-secondcore", os.MFD_CLOEXEC)
    except OSError:  # no file descriptor left, or a sandbox that refuses the call
        return compute(items)
    try:
        results = _fork(compute, first, second, fd)
    finally:
        os.close(fd)
    return results


def _safe_to_fork() -> bool:
    return (
        sys.platform.startswith("linux")  # PR_SET_PDEATHSIG
        and hasattr(os, "fork")
        and hasattr(os, "memfd_create")
        and signal.getsignal(signal.SIGCHLD) != signal.SIG_IGN
        and _alone()
    )


def _alone() -> bool:
    """This is the main thread and the only one, threads started outside ``threading`` (by
    extensions) included."""
    if threading.current_thread() is not threading.main_thread() or threading.active_count() > 1:
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _handled_signals() -> set[int]:
    """The signals whose handler is Python code (it must never run in the child)."""
    handled: set[int] = set()
    for signum in signal.valid_signals():
        with contextlib.suppress(ValueError, OSError):  # numbers Python has no handler slot for
            if callable(signal.getsignal(signum)):
                handled.add(signum)
    return handled


def _fork(
    compute: Callable[[Sequence[Item]], list[Result]],
    first: Sequence[Item],
    second: Sequence[Item],
    fd: int,
) -> list[Result]:
    parent = os.getpid()
    handled = _handled_signals()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, handled)
    try:
        pid = os.fork()
    except OSError:  # out of processes or memory: no child, then
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        return compute(first) + compute(second)
    if pid == 0:
        _child(parent, fd, compute, second, handled, mask)
    exit_code: int | None = None  # the child's, once reaped
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a signal pending since fork raises here
        results = list(compute(first))  # a list of our own, to extend
        try:
            exit_code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        except ChildProcessError:  # reaped elsewhere (a SIGCHLD handler): its word is lost
            exit_code = -1
    finally:
        if exit_code is None:
            _kill(pid, handled)
    theirs: list[Result] | None = _received(fd) if exit_code == 0 else None
    results.extend(compute(second) if theirs is None else theirs)
    return results


def _child(
    parent: int,
    fd: int,
    compute: Callable[[Sequence[Item]], list[Result]],
    items: Sequence[Item],
    handled: set[int],
    mask: set[int],
) -> NoReturn:
    """Compute ``items`` into ``fd``; exit 0 when every result is there, 1 otherwise."""
    code = 1
    try:
        for signum in handled:
            signal.signal(signum, signal.SIG_DFL)
        if _dies_with(parent):
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            _write_all(fd, _encode(compute(items)))
            code = 0
    except BaseException:  # the parent computes these items again and raises what they raise
        pass
    finally:
        os._exit(code)


def _dies_with(parent: int) -> bool:
    """Have the kernel kill this process when ``parent`` ends; False if that cannot be had or
    it has ended already."""
    import ctypes  # here: only a child needs it

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    return os.getppid() == parent


def _write_all(fd: int, buffers: list[bytes]) -> None:
    for start in range(0, len(buffers), _IOV_MAX):
        batch = [memoryview(buffer) for buffer in buffers[start : start + _IOV_MAX] if buffer]
        while batch:
            written = os.writev(fd, batch)
            while batch and written >= len(batch[0]):
                written -= len(batch[0])
                batch.pop(0)
            if batch:
                batch[0] = batch[0][written:]


def _received(fd: int) -> list[Any] | None:
    """The child's results, or None when they do not decode."""
    try:
        with (
            mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as mapped,  # empty: ValueError
            memoryview(mapped) as view,
        ):
            return _decode(view)
    except Exception:
        return None


def _kill(pid: int, handled: set[int]) -> None:
    """Make sure the child is gone, with our signals held back until it is reaped."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, handled)
    try:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
