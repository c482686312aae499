"""Progress lines: only on a terminal, and only once a run has taken a while."""

from __future__ import annotations

import io

import pytest

from tenantctl import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_nothing_is_printed_when_stderr_is_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress, "DELAY", 0.0)
    stream = io.StringIO()
    progress.Progress(stream).step("rendering 10000 namespaces")
    assert stream.getvalue() == ""


def test_a_short_run_on_a_terminal_prints_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "DELAY", 3600.0)
    stream = Terminal()
    progress.Progress(stream).step("rendering 3 namespaces")
    assert stream.getvalue() == ""


def test_a_long_run_on_a_terminal_says_what_it_does_next(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "DELAY", 0.0)
    stream = Terminal()
    progress.Progress(stream).step("rendering 10000 namespaces")
    assert stream.getvalue().endswith("s] rendering 10000 namespaces\n")
