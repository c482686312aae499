"""What the gateway remembers of its own writes, for reads that must not go back in time.

Covers: a write makes an older index entry lag and a newer or equal one not; a write is
forgotten once the window has passed, and so are all older ones, while a later write of the
same sandbox renews it (the memory is kept oldest first, so forgetting looks only at the
front); resourceVersions that are not integers are trusted only on an exact match.
"""

from __future__ import annotations

from typing import Any

from sandbox_gateway.operations import RecentWrites


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def written(name: str, version: str, namespace: str = "alpha-dev") -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name, "resourceVersion": version}}


def test_an_index_entry_older_than_our_write_lags_and_a_newer_one_does_not() -> None:
    writes = RecentWrites(window=30, clock=Clock())
    writes.remember(written("s1", "120"))
    assert writes.lags("alpha-dev", "s1", "119")
    assert not writes.lags("alpha-dev", "s1", "120")
    assert not writes.lags("alpha-dev", "s1", "121")
    assert not writes.lags("alpha-dev", "s2", "1")  # never written by us
    assert not writes.lags("beta-dev", "s1", "1")


def test_writes_are_forgotten_after_the_window_unless_written_again() -> None:
    clock = Clock()
    writes = RecentWrites(window=30, clock=clock)
    writes.remember(written("s1", "101"))
    writes.remember(written("s2", "102"))
    clock.now += 20
    writes.remember(written("s1", "103"))  # renews s1, now newer than s2
    clock.now += 15  # s2 is 35 s old, s1 15 s
    writes.remember(written("s3", "104"))
    assert len(writes) == 2
    assert not writes.lags("alpha-dev", "s2", "1")
    assert writes.lags("alpha-dev", "s1", "102")
    clock.now += 31
    assert not writes.lags("alpha-dev", "s1", "102")  # past the window even before it is dropped
    writes.remember(written("s4", "105"))
    assert len(writes) == 1


def test_versions_that_are_not_integers_are_trusted_only_when_equal() -> None:
    writes = RecentWrites(window=30, clock=Clock())
    writes.remember(written("s1", "abc"))
    assert writes.lags("alpha-dev", "s1", "abd")
    assert not writes.lags("alpha-dev", "s1", "abc")
