"""Bounds on what a spec file may cost to read, checked before any parser builds data from it.

A YAML file can be small on disk and huge in memory: nine nested levels of ten aliases each (the
"billion laughs") expand to a billion nodes, and both YAML parsers used here would build or walk
every one of them. A file can also simply be very large. So, before parsing:

- the file may hold at most ``max_bytes`` bytes (16 MiB by default; ``--max-spec-bytes`` changes
  it), checked from the file's size before it is read;
- a streaming pass over PyYAML's parse events (which keep no tree) counts aliases, the nodes they
  stand for, and the nesting depth, and stops at the first one over its cap, naming the line and
  column where the cap was crossed.

The pass runs only when the text holds an ``&`` (no anchor, no alias can expand), so ordinary
specs pay nothing for it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

import yaml

from tenantctl.spec.problems import Problem, SpecError

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DEFAULT_MAX_BYTES = 16 * 1024 * 1024


class Mark(Protocol):
    """A place in the text: PyYAML's Python and C parsers give marks of two classes alike here."""

    @property
    def index(self) -> int: ...


@dataclass(frozen=True)
class InputLimits:
    """Caps on one spec file: its size, its aliases, what they expand to, and nesting depth."""

    max_bytes: int = DEFAULT_MAX_BYTES
    # A spec that shares one settings block per namespace through ``<<: *defaults`` uses one
    # alias per namespace; 100,000 leaves room for ten times the largest spec benchmarked.
    max_aliases: int = 100_000
    # Nodes reached through aliases, counted as if every alias were copied out in full.
    max_alias_nodes: int = 1_000_000
    # The schema's deepest field is about ten levels down.
    max_depth: int = 100


_current: ContextVar[InputLimits | None] = ContextVar("tenantctl_input_limits", default=None)


def current() -> InputLimits:
    """The limits in force for this run (set from the command line, else the defaults)."""
    return _current.get() or InputLimits()


def use(limits: InputLimits) -> None:
    """Make ``limits`` the ones in force for the rest of this run."""
    _current.set(limits)


def check_size(file: str, size: int, limits: InputLimits) -> None:
    if size > limits.max_bytes:
        raise SpecError(
            [
                Problem(
                    file,
                    1,
                    1,
                    "",
                    f"the file is {size:,} bytes, over the limit of {limits.max_bytes:,} bytes",
                    f"split the spec, or raise the limit with --max-spec-bytes {size}",
                )
            ]
        )


def check_expansion(
    text: str,
    file: str,
    limits: InputLimits,
    position: Callable[[Mark], tuple[int, int]],
) -> None:
    """SpecError at the first alias, expansion or nesting level over ``limits``.

    ``position`` turns a PyYAML mark into the 1-based (line, column) users see. YAML syntax errors
    are left to the parsers, which word them better.
    """
    if "&" not in text:
        return

    def at(event: yaml.Event) -> tuple[int, int]:
        # The parser marks every event it yields; only events built by hand lack a start mark.
        return position(event.start_mark) if event.start_mark else (1, 1)

    sizes: dict[str, int] = {}  # anchor -> nodes in its subtree, aliases expanded
    open_nodes: list[tuple[str | None, int]] = [(None, 0)]  # (anchor, nodes so far)
    aliases = 0
    expanded = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                aliases += 1
                expanded += sizes.get(event.anchor or "", 1)
                anchor, count = open_nodes[-1]
                open_nodes[-1] = (anchor, count + sizes.get(event.anchor or "", 1))
                if aliases > limits.max_aliases:
                    _refuse(
                        file,
                        at(event),
                        f"more than {limits.max_aliases:,} YAML aliases",
                    )
                if expanded > limits.max_alias_nodes:
                    _refuse(
                        file,
                        at(event),
                        f"YAML aliases expand to more than {limits.max_alias_nodes:,} nodes",
                    )
            elif isinstance(event, yaml.ScalarEvent):
                anchor, count = open_nodes[-1]
                open_nodes[-1] = (anchor, count + 1)
                if event.anchor:
                    sizes[event.anchor] = 1
            elif isinstance(event, yaml.CollectionStartEvent):
                open_nodes.append((event.anchor, 1))
                if len(open_nodes) > limits.max_depth:
                    _refuse(
                        file,
                        at(event),
                        f"the document nests deeper than {limits.max_depth} levels",
                        hint="a TenantSet is about ten levels deep; remove the extra nesting",
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, count = open_nodes.pop()
                if anchor:
                    sizes[anchor] = count
                parent_anchor, parent_count = open_nodes[-1]
                open_nodes[-1] = (parent_anchor, parent_count + count)
    except yaml.MarkedYAMLError as err:
        if "*" not in text:
            return  # no alias to expand: the parsers report the syntax error in their words
        # An alias bomb must not reach a parser whose own check was cut short.
        mark = err.problem_mark or err.context_mark
        _refuse(
            file,
            position(mark) if mark else (1, 1),
            f"YAML syntax error: {err.problem or err.context}",
            hint="fix the YAML syntax at this position",
            refusing=False,
        )
    except yaml.YAMLError as err:
        if "*" in text:
            _refuse(file, (1, 1), f"YAML error: {err}", hint="", refusing=False)


def _refuse(
    file: str,
    where: tuple[int, int],
    what: str,
    hint: str = "write the repeated parts out, or share fewer, smaller blocks",
    *,
    refusing: bool = True,
) -> None:
    message = f"{what}; refusing to read the document" if refusing else what
    raise SpecError([Problem(file, *where, "", message, hint)])
