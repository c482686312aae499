"""SIGINT and SIGTERM for `tools/cluster`: always handled, and never lost during start-up.

Two ways an interrupt used to vanish while `up` started the daemons:

- A process started from a non-interactive shell's background job (`make test &`, CI steps,
  agents running commands) inherits SIGINT *ignored*, and Python then leaves it ignored: the
  SIGINT never arrives, `up` finishes and exits 0. `install()` sets a handler for both signals
  whatever the inherited disposition was (as Go's `signal.Notify` does).
- Python raises the interrupt wherever the interpreter is when it runs the handler; inside a
  finalizer (an HTTP response or socket closed by the garbage collector during a readiness
  poll) the exception is printed as "Exception ignored" and discarded. The handler therefore
  also records the signal, and `check()` raises it again; the start-up loop calls it at every
  poll and after the last step.
"""

from __future__ import annotations

import signal
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; the exit code is 128 + the signal number (130, 143)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _handler(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    raise Interrupted(signum)


def install() -> None:
    """Turn SIGINT and SIGTERM into `Interrupted`, even if this process started ignoring them."""
    for signum in SIGNALS:
        signal.signal(signum, _handler)


def check() -> None:
    """Raise an interrupt that arrived earlier, if any, even if something swallowed it."""
    if _received:
        raise Interrupted(_received[0])
