"""Every exit code tenantctl returns, with its meaning, declared once.

Each command picks its exit code from ``ExitCode``; ``help_epilog()`` is the table every
command's ``--help`` ends with, and README.md shows the same rows (a test holds the three
together). A script can therefore branch on a code without knowing which command it ran.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    TOOL_MISSING = 3
    CLUSTER = 4
    REFUSED = 5
    FILESYSTEM = 6
    INTERRUPTED = 130
    TERMINATED = 143


MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success (diff: nothing would change; verify: every check passed)",
    ExitCode.FAILED: "invalid output, a failed check, failed objects, or (diff) changes",
    ExitCode.BAD_INPUT: "a problem in the spec or command line, or files in generate's way",
    ExitCode.TOOL_MISSING: "a required tool is missing; the message says how to install it",
    ExitCode.CLUSTER: "the cluster or the kubeconfig cannot be used",
    ExitCode.REFUSED: "refused for safety: adoption or a namespace deletion needs consent",
    ExitCode.FILESYSTEM: "a file or folder cannot be read or written (path and cause shown)",
    ExitCode.INTERRUPTED: "interrupted by SIGINT (Ctrl-C); generate changes nothing",
    ExitCode.TERMINATED: "terminated by SIGTERM; generate changes nothing",
}


def table_rows() -> list[tuple[int, str]]:
    return [(int(code), MEANINGS[code]) for code in ExitCode]


def help_epilog() -> str:
    """The exit-code table as the last paragraph of ``--help`` (``\\b`` keeps click from
    re-wrapping the rows)."""
    rows = [f"  {code:>3}  {meaning}" for code, meaning in table_rows()]
    return "\b\nExit codes (the same for every tenantctl command):\n" + "\n".join(rows)
