"""Texts of many items on two cores: the second half worked out by a forked child process.

Writing the YAML text of 10,000 namespaces is the largest step of ``generate`` (about a second
of pure Python), and it is a pure function of the rendering, item by item; so is writing and
hashing the files. ``texts`` runs such a function over the first half of the items in this
process and over the second half in a child forked after rendering (``tenantctl.secondcore``,
which holds the forking, its safety and the test of a free core), which shares the rendering
copy-on-write and hands back only the results. Everything that decides what is written stays in
the parent, so staging, ownership and the all-or-nothing rules are those of one process.

The result is the same list either way, in the same order. Whenever the child cannot help (no
second core free at the start, a short list, or the child failing or dying for any reason) the
parent works out the second half itself: slower, never different.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from tenantctl import secondcore

_Item = TypeVar("_Item")

# Below this many items the fork and the hand-over cost more than the second core saves.
MIN_ITEMS = 2000


def texts(
    function: Callable[[Sequence[_Item]], list[str]],
    items: Sequence[_Item],
    *,
    child_share: float = 0.5,
) -> list[str]:
    """``function(items)``, worked out on two cores when that pays. ``function`` must work item
    by item, ``function(a + b) == function(a) + function(b)``, and may be run twice over the
    same items. ``child_share``: the part of the items the child takes (the parent has the
    hand-over to read besides)."""
    if len(items) < MIN_ITEMS or not secondcore.available():
        return function(items)
    split = len(items) - int(len(items) * child_share)
    return secondcore.split(function, items, parent_takes=split)
