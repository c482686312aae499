"""Command-line options every command that reads a spec shares: the input limits.

Added to commands by ``add_spec_options`` rather than by a decorator on each, so the commands'
own signatures do not change: the option's callback puts the limits in force for the run
(``tenantctl.spec.limits.use``), and ``read_tenantset`` reads them from there.
"""

from __future__ import annotations

import click

from tenantctl.spec import limits


def _use_max_bytes(context: click.Context, parameter: click.Parameter, value: int) -> int:
    limits.use(limits.InputLimits(max_bytes=value))
    return value


def max_spec_bytes_option() -> click.Option:
    return click.Option(
        ["--max-spec-bytes"],
        type=click.IntRange(min=1),
        default=limits.DEFAULT_MAX_BYTES,
        show_default=True,
        expose_value=False,
        is_eager=True,
        callback=_use_max_bytes,
        help="Refuse a spec file larger than this many bytes.",
    )


def add_spec_options(*commands: click.Command) -> None:
    for command in commands:
        command.params.append(max_spec_bytes_option())
