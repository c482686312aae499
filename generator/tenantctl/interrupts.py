"""SIGINT and SIGTERM as one exception that carries its exit code, and never lost on its way.

Python raises an interrupt wherever the interpreter happens to be when the signal arrives. If
that is inside a finalizer (``__del__``, an ``io`` object being closed by the garbage
collector), Python prints "Exception ignored in ..." and the run carries on as if nothing had
happened. So the handler also records the signal, and long operations call ``check()`` at each
step boundary: an interrupt swallowed anywhere is raised again there.

``deferred()`` holds both signals back for a few renames that must happen together (putting
generated output in place, removing a staging folder); they are delivered when it ends.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

from tenantctl.exitcodes import ExitCode

T = TypeVar("T")

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []


class Interrupted(KeyboardInterrupt):
    """SIGINT (exit 130) or SIGTERM (exit 143) arrived."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        # Set by an action whose work was already complete when the signal was delivered.
        self.completed = False

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.TERMINATED if self.signum == signal.SIGTERM else ExitCode.INTERRUPTED


def _handler(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    raise Interrupted(signum)


@contextmanager
def handled() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into ``Interrupted`` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    previous = {signum: signal.signal(signum, _handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def check() -> None:
    """Raise the interrupt that arrived earlier, if any, even if something swallowed it."""
    if _received:
        raise Interrupted(_received[0])


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back until the block is done; then they are delivered."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)``, where SIGINT and SIGTERM cancel it and then raise
    ``Interrupted`` from it.

    Raised by the ordinary handler, an interrupt lands in whichever task the loop is stepping;
    asyncio keeps it in that task and in every ``gather`` waiting on it, and once the run is
    over it prints "exception was never retrieved" with a traceback after the command's own
    message. Cancelling the main task instead ends every task it awaits cleanly.
    """
    return asyncio.run(_cancelled_by_signals(coroutine))


async def _cancelled_by_signals(coroutine: Coroutine[Any, Any, T]) -> T:
    if threading.current_thread() is not threading.main_thread():
        return await coroutine
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    arrived: list[int] = []

    def cancel(signum: int) -> None:
        _received.append(signum)
        arrived.append(signum)
        main.cancel()

    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    for signum in SIGNALS:
        loop.add_signal_handler(signum, cancel, signum)
    try:
        return await coroutine
    except asyncio.CancelledError:
        if arrived:
            raise Interrupted(arrived[0]) from None
        raise
    finally:
        for signum, handler in previous.items():
            loop.remove_signal_handler(signum)  # which sets the default action...
            signal.signal(signum, handler)  # ...so the handler from before is put back
