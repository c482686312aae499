"""SIGINT and SIGTERM inside tenantctl: never lost, held back while output goes in place.

Aspects: an interrupt Python discards (raised inside a finalizer) is raised again by
`check()`; `deferred()` delivers a signal only when its block ends; each signal carries its
exit code.
"""

from __future__ import annotations

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
