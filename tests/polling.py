"""The tests' one way to wait: poll a condition until it holds, or fail saying what.

Everything on the control plane settles asynchronously (controllers, admission policies taking
effect, a gateway's watch catching up), and a loaded two-core machine makes any fixed sleep too
short some day. So tests wait for a condition, never for a time: ``wait_until`` calls it
often at first and less often later, returns its first truthy result, and fails the test with
``describe`` (a text, or a function giving the last state) when ``timeout`` runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

FIRST_PAUSE = 0.05
LONGEST_PAUSE = 0.5


def wait_until(
    condition: Callable[[], T],
    timeout: float = 60.0,
    describe: str | Callable[[], str] = "the condition",
    *,
    longest_pause: float = LONGEST_PAUSE,
) -> T:
    """``condition()``'s first truthy result; fails the test after ``timeout`` seconds.
    ``longest_pause`` caps the pause between calls, for tests that must react quickly."""
    deadline = time.monotonic() + timeout
    pause = min(FIRST_PAUSE, longest_pause)
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            what = describe() if callable(describe) else describe
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}", pytrace=False)
        time.sleep(pause)
        pause = min(longest_pause, pause * 2)
