"""Pieces every tenantctl command shares: reading the spec, reporting its problems, and
saying what a filesystem error was in one line.

Each command reads a spec the same way and, when it has problems, prints every one of them as
``FILE:LINE:COL: path: message (hint)`` and exits 2 saying what was not done.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from tenantctl.exitcodes import ExitCode
from tenantctl.spec.model import TenantSet
from tenantctl.spec.problems import SpecError
from tenantctl.spec.reading import read_tenantset
from tenantctl.spec.together import check_together


def read_spec_or_exit(spec: Path, *, not_done: str) -> TenantSet:
    """The resolved spec, or every problem printed and exit 2 (``not_done``: "nothing was ...")."""
    try:
        return read_tenantset(spec)
    except SpecError as err:
        for problem in err.problems:
            click.echo(str(problem), err=True)
        count = len(err.problems)
        click.secho(
            f"{count} problem{'s' if count != 1 else ''} in {spec}; {not_done}.", fg="red", err=True
        )
        sys.exit(ExitCode.BAD_INPUT)


def filesystem_error(err: OSError) -> str:
    """One line: which path, and what the operating system said (never a traceback)."""
    cause = err.strerror or str(err)
    if err.filename is None:
        return f"error: {cause}"
    where = os.fsdecode(err.filename)
    if err.filename2 is not None:
        where = f"{where} -> {os.fsdecode(err.filename2)}"
    return f"error: {where}: {cause}"


def exit_on_overlaps(specs: Sequence[Path], *, not_done: str) -> None:
    """With several (each valid) specs for one cluster: every id, namespace or identity two of
    them claim printed, and exit 2; nothing with one spec."""
    if len(specs) < 2:
        return
    problems = check_together(specs)
    if not problems:
        return
    for problem in problems:
        click.echo(str(problem), err=True)
    count = len(problems)
    click.secho(
        f"{count} problem{'s' if count != 1 else ''} between {', '.join(map(str, specs))}; "
        f"{not_done}.",
        fg="red",
        err=True,
    )
    sys.exit(ExitCode.BAD_INPUT)
