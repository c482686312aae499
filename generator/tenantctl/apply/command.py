"""The `apply` and `diff` commands: kubectl-like flags, one call to ``apply.actions``, the
result printed and the exit code chosen.

Exit codes from ``tenantctl.exitcodes``:
  apply  0 ok, 1 some objects failed (each printed with the server's reason), 2 spec or
         command line, 4 the cluster could not be used (kubeconfig, connection, credentials,
         missing CRDs), 5 refused for safety (an existing namespace tenantctl does not manage:
         use --adopt; a namespace deletion that was not confirmed), 130/143 interrupted
  diff   0 nothing would change, 1 something would (like `diff` and `kubectl diff`), 4 as above
An interrupted apply leaves what was applied; applying again converges.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tenantctl import clusteroption, interrupts
from tenantctl.apply import actions, diffing
from tenantctl.apply.plan import describe
from tenantctl.commandline import read_spec_or_exit
from tenantctl.exitcodes import ExitCode, help_epilog
from tenantctl.kube import config, errors

# Below this many objects a progress bar is noise.
PROGRESS_THRESHOLD = 200
_EPILOG = help_epilog()

F = TypeVar("F", bound=Callable[..., Any])


def _cluster_options(command: F) -> F:
    for option in reversed(
        [
            click.option(
                "--kubeconfig",
                type=click.Path(path_type=Path),
                help="Kubeconfig file [default: $KUBECONFIG, then ~/.kube/config].",
            ),
            click.option("--context", help="Kubeconfig context [default: current-context]."),
            click.option(
                "--concurrency",
                type=click.IntRange(1, 512),
                default=64,
                show_default=True,
                help="Requests in flight at once.",
            ),
        ]
    ):
        command = option(command)
    return command


def _connection(kubeconfig: Path | None, context: str | None) -> config.Connection:
    try:
        return actions.connect(kubeconfig, context)
    except errors.ConfigError as err:
        click.secho(f"error: {err}", fg="red", err=True)
        sys.exit(ExitCode.CLUSTER)


def _cluster_call(call: Callable[[], Any]) -> Any:
    """Run one action; a cluster error or an interrupt ends the command with its exit code."""
    try:
        return call()
    except errors.KubeError as err:
        click.secho(f"error: {err}", fg="red", err=True)
        sys.exit(ExitCode.CLUSTER)
    except KeyboardInterrupt as interrupted:
        click.secho(
            "interrupted: what was applied stays applied; run the same command again to converge",
            fg="yellow",
            err=True,
        )
        code = (
            interrupted.exit_code
            if isinstance(interrupted, interrupts.Interrupted)
            else ExitCode.INTERRUPTED
        )
        sys.exit(code)


def _confirm_deletion(yes: bool) -> Callable[[actions.NamespaceDeletion], bool]:
    def confirm(deletion: actions.NamespaceDeletion) -> bool:
        name = deletion.name
        click.echo(f"namespace/{name} is no longer in the spec and would be deleted with:")
        if deletion.contents:
            for kind, count in deletion.contents.items():
                click.echo(f"  {count} {kind}")
        else:
            click.echo("  nothing but the defaults")
        if deletion.unreadable:
            click.echo(f"  (not readable with these credentials: {', '.join(deletion.unreadable)})")
        if yes:
            return True
        if not sys.stdin.isatty():
            click.secho(
                f"refused: deleting namespace/{name} needs confirmation: pass --yes",
                fg="red",
                err=True,
            )
            return False
        if not click.confirm(f"Delete namespace {name} and everything in it?", default=False):
            click.echo(f"namespace/{name} kept")
            return False
        return True

    return confirm


def _progress_bar(total: int) -> Callable[[int], None]:
    if total < PROGRESS_THRESHOLD or not sys.stderr.isatty():
        return lambda done: None
    bar = click.progressbar(length=total, label="applying", file=sys.stderr)
    bar.render_progress()

    def advance(done: int) -> None:
        bar.update(done)
        if bar.finished:
            bar.render_finish()

    return advance


@click.command(epilog=_EPILOG)
@click.argument("spec", type=click.Path(path_type=Path))
@_cluster_options
@clusteroption.cluster_option
@click.option(
    "--prune",
    is_flag=True,
    help="Delete objects of this spec (by its ownership labels) that are no longer rendered. "
    "Never touches anything else, and never Namespaces without --prune-namespaces.",
)
@click.option(
    "--prune-namespaces",
    is_flag=True,
    help="With --prune: also delete this spec's Namespaces that are no longer rendered, "
    "after listing what they still contain and asking for confirmation.",
)
@click.option("-y", "--yes", is_flag=True, help="Confirm namespace deletion without a prompt.")
@click.option(
    "--adopt", is_flag=True, help="Take over existing namespaces that tenantctl does not manage."
)
@click.option(
    "--force-conflicts",
    is_flag=True,
    help="Take over fields another field manager owns (server-side apply force).",
)
@click.option(
    "--dry-run",
    type=click.Choice(["none", "server"]),
    default="none",
    show_default=True,
    help="server: the API server checks everything, stores nothing.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only failures and the summary.")
def apply(
    spec: Path,
    kubeconfig: Path | None,
    context: str | None,
    concurrency: int,
    prune: bool,
    prune_namespaces: bool,
    yes: bool,
    adopt: bool,
    force_conflicts: bool,
    dry_run: str,
    quiet: bool,
    cluster: str | None,
) -> None:
    """Server-side apply SPEC's objects to the cluster (field manager "tenantctl").

    Namespaces and cluster-scoped objects go first, then the rest concurrently; objects whose
    applied hash and live fields already match are skipped. Ends with a summary of created,
    configured, unchanged and pruned objects.
    """
    if prune_namespaces and not prune:
        raise click.UsageError("--prune-namespaces needs --prune")
    tenantset = read_spec_or_exit(spec, not_done="nothing was applied")
    tenantset, context = clusteroption.target_or_exit(tenantset, cluster, kubeconfig, context)
    connection = _connection(kubeconfig, context)
    options = actions.ApplyOptions(
        concurrency=concurrency,
        prune=prune,
        prune_namespaces=prune_namespaces,
        adopt=adopt,
        force_conflicts=force_conflicts,
        dry_run=dry_run == "server",
    )
    result: actions.ApplyResult = _cluster_call(
        lambda: actions.apply(
            tenantset, connection, options, confirm=_confirm_deletion(yes), progress=_progress_bar
        )
    )
    if result.refused:
        for refusal in result.refused:
            click.secho(
                f"refused: namespace {refusal.key[3]}: {refusal.reason}. Check it with "
                "`tenantctl diff`, then take it over with --adopt.",
                fg="red",
                err=True,
            )
        click.secho("Nothing was applied.", fg="red", err=True)
        sys.exit(ExitCode.REFUSED)
    suffix = " (server dry run)" if options.dry_run else ""
    for key in result.adopted:
        click.echo(f"namespace/{key[3]} adopted{suffix}")
    for name in result.kept_namespaces:
        click.echo(
            f"namespace/{name} is no longer in the spec; kept (delete it with --prune-namespaces)"
        )
    if result.not_pruned:
        click.echo(f"{result.not_pruned} objects are no longer rendered; --prune deletes them.")
    outcome = result.outcome
    assert outcome is not None
    if not quiet:
        for verb, keys in (
            ("created", outcome.created),
            ("configured", outcome.configured),
            ("pruned", outcome.pruned),
        ):
            for key in sorted(keys):
                click.echo(f"{describe(key)} {verb}{suffix}")
    for key, message in sorted(outcome.failed):
        click.secho(f"failed: {describe(key)}: {message}", fg="red", err=True)
    click.echo(
        f"{len(outcome.created)} created, {len(outcome.configured)} configured, "
        f"{len(outcome.unchanged)} unchanged, {len(outcome.pruned)} pruned"
        + (f", {len(outcome.failed)} failed" if outcome.failed else "")
        + suffix
    )
    if outcome.failed:
        sys.exit(ExitCode.FAILED)
    sys.exit(ExitCode.REFUSED if result.declined_namespaces else ExitCode.OK)


@click.command(epilog=_EPILOG)
@click.argument("spec", type=click.Path(path_type=Path))
@_cluster_options
@clusteroption.cluster_option
@click.option(
    "--prune",
    is_flag=True,
    help="Also show the deletions `apply --prune` would make (and, for stale namespaces, "
    "`--prune-namespaces`).",
)
def diff(
    spec: Path,
    kubeconfig: Path | None,
    context: str | None,
    concurrency: int,
    prune: bool,
    cluster: str | None,
) -> None:
    """Show what `tenantctl apply` would change, as a unified diff against the live cluster.

    The new side is the API server's dry run of the apply, so server defaults never show up as
    changes. Exits 1 when something would change, 0 when nothing would.
    """
    tenantset = read_spec_or_exit(spec, not_done="nothing was applied")
    tenantset, context = clusteroption.target_or_exit(tenantset, cluster, kubeconfig, context)
    connection = _connection(kubeconfig, context)
    result: actions.DiffResult = _cluster_call(
        lambda: actions.diff(tenantset, connection, concurrency=concurrency, prune=prune)
    )
    for key in sorted(result.diffs):
        click.echo(diffing.colour(result.diffs[key]), nl=False)
    for key in result.adopted:
        click.secho(
            f"note: namespace/{key[3]} exists and is not this spec's: apply needs --adopt",
            fg="yellow",
            err=True,
        )
    for key, message in result.failures:
        click.secho(f"failed: {describe(key)}: {message}", fg="red", err=True)
    if result.failures:
        sys.exit(ExitCode.CLUSTER)
    sys.exit(ExitCode.FAILED if result.diffs else ExitCode.OK)
