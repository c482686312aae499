"""Progress lines on stderr for long runs, shown only to a person watching a terminal.

A 10,000-namespace spec takes seconds to read, render and validate; without a word, a user
cannot tell a working run from a stuck one. Piped or captured output (CI, scripts, tests) stays
exactly as it was: nothing is printed unless stderr is a terminal, and nothing before the run has
taken ``DELAY`` seconds, so short runs on a terminal print nothing either.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

DELAY = 1.0


class Progress:
    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.monotonic()

    def step(self, message: str) -> None:
        """Say what the run does next, once the run has lasted long enough to need it."""
        elapsed = time.monotonic() - self.started
        if self.enabled and elapsed >= DELAY:
            self.stream.write(f"[{elapsed:5.1f}s] {message}\n")
            self.stream.flush()
