"""SIGINT and SIGTERM inside tenantctl: never lost, held back while output goes in place.

Aspects: an interrupt Python discards (raised inside a finalizer) is raised again by
`check()`; `deferred()` delivers a signal only when its block ends; each signal carries its
exit code; `run()` ends an asyncio run on a signal without leaving it inside a task.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal

import pytest

from tenantctl import interrupts
from tenantctl.exitcodes import ExitCode


class _SignalledWhileFinalized:
    """Sends SIGINT to this process from its finalizer, as a signal arriving at that moment."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)


# The swallowed interrupt is exactly what this test provokes; pytest would report it.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_interrupt_swallowed_by_a_finalizer_is_raised_again_by_check() -> None:
    with interrupts.handled():
        first, second = _SignalledWhileFinalized(), _SignalledWhileFinalized()
        first.other, second.other = second, first  # type: ignore[attr-defined]
        del first, second
        gc.collect()  # Python prints "Exception ignored in ..." and carries on

        with pytest.raises(interrupts.Interrupted) as raised:
            interrupts.check()

    assert raised.value.exit_code == ExitCode.INTERRUPTED


def test_a_signal_during_deferred_is_delivered_when_the_block_ends() -> None:
    reached_end_of_block = False
    with interrupts.handled(), pytest.raises(interrupts.Interrupted) as raised:
        with interrupts.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            reached_end_of_block = True
        interrupts.check()

    assert reached_end_of_block
    assert raised.value.name == "SIGTERM"
    assert raised.value.exit_code == ExitCode.TERMINATED == 143


def test_handlers_are_restored_after_the_command() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with interrupts.handled():
        pass
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_a_signal_inside_a_gathered_task_ends_the_run_with_nothing_left_unretrieved() -> None:
    """A signal that arrives while a task of a gather is being stepped interrupts the run once,
    and no task or gather keeps it: asyncio would print "exception was never retrieved" with
    a traceback after the command's own message (as `tenantctl apply` once did on SIGTERM)."""
    unretrieved: list[str] = []

    async def one(index: int) -> None:
        if index == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # delivered while this task runs
            await asyncio.sleep(0)
        await asyncio.sleep(3600)

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: unretrieved.append(context["message"])
        )
        await asyncio.gather(*(one(index) for index in range(8)))

    signum, before = None, signal.getsignal(signal.SIGTERM)
    with interrupts.handled():
        try:
            interrupts.run(main())
        except interrupts.Interrupted as interrupted:
            signum = interrupted.signum
    gc.collect()  # a future holding an exception reports it once nothing refers to it

    assert signum == signal.SIGTERM
    assert unretrieved == []
    assert signal.getsignal(signal.SIGTERM) == before  # run() and handled() put theirs back
