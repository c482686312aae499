"""Options and fixtures shared by the whole suite."""

from __future__ import annotations

import os
import threading

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from the current renderers instead of comparing against it",
    )


@pytest.fixture
def lingering_threads_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads an earlier test left in this process (an idle asyncio executor thread) do not
    keep tenantctl.secondcore from forking in this one; a thread this test starts still does."""
    from tenantctl import secondcore

    before = set(os.listdir("/proc/self/task"))

    def alone() -> bool:
        return threading.current_thread() is threading.main_thread() and before >= set(
            os.listdir("/proc/self/task")
        )

    monkeypatch.setattr(secondcore, "_alone", alone)


@pytest.fixture
def forking_allowed(monkeypatch: pytest.MonkeyPatch, lingering_threads_ignored: None) -> list[int]:
    """tenantctl.secondcore forks whatever else runs on the machine (a test must not depend on
    its load); the pids of the children it forked, so a test knows that one was."""
    from tenantctl import secondcore

    monkeypatch.setattr(secondcore, "available", lambda: True)
    forked: list[int] = []
    fork = os.fork

    def counted() -> int:
        pid = fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counted)
    return forked
