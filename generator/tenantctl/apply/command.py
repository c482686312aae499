"""The `apply` and `diff` commands: kubectl-like flags, a plan, then (for apply) its execution.

Exit codes, in addition to the shared 0 (ok) and 2 (spec or command line wrong):
  apply  1  some objects failed to apply or delete (each is printed with the server's reason)
         4  the cluster could not be used: kubeconfig, connection, credentials, missing CRDs
         5  refused for safety: an existing namespace tenantctl does not manage (use --adopt),
            or a namespace deletion that was not confirmed
  diff   1  something would change (like `diff` and `kubectl diff`); 4 as above
An interrupted apply exits 130; applying again converges.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tenantctl import clusteroption
from tenantctl.apply import plan as planning
from tenantctl.apply.plan import Key, Obj, describe
from tenantctl.commandline import read_spec_or_exit
from tenantctl.kube import config, errors
from tenantctl.render.bundle import render
from tenantctl.spec.model import TenantSet

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_SPEC = 2
EXIT_CLUSTER = 4
EXIT_REFUSED = 5
EXIT_INTERRUPTED = 130
# Below this many objects a progress bar is noise.
PROGRESS_THRESHOLD = 200

if TYPE_CHECKING:
    from tenantctl.apply import run
    from tenantctl.kube.client import Client
    from tenantctl.kube.discovery import Discovery

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


def _desired(tenantset: TenantSet) -> list[Obj]:
    return [planning.with_applied_hash(obj) for obj in render(tenantset).all_manifests()]


def _connection(kubeconfig: Path | None, context: str | None) -> config.Connection:
    try:
        return config.load(kubeconfig, context)
    except errors.ConfigError as err:
        click.secho(f"error: {err}", fg="red", err=True)
        sys.exit(EXIT_CLUSTER)


def _run(coroutine: Any) -> int:
    try:
        return int(asyncio.run(coroutine))
    except errors.KubeError as err:
        click.secho(f"error: {err}", fg="red", err=True)
        return EXIT_CLUSTER
    except KeyboardInterrupt:
        click.secho(
            "interrupted: what was applied stays applied; run the same command again to converge",
            fg="yellow",
            err=True,
        )
        return EXIT_INTERRUPTED


def _refusals(the_plan: planning.Plan) -> None:
    for refusal in the_plan.refused:
        click.secho(
            f"refused: namespace {refusal.key[3]}: {refusal.reason}. Check it with "
            "`tenantctl diff`, then take it over with --adopt.",
            fg="red",
            err=True,
        )


@click.command()
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
    desired = _desired(tenantset)
    connection = _connection(kubeconfig, context)
    sys.exit(
        _run(
            _apply(
                tenantset.spec_id,
                desired,
                connection,
                concurrency=concurrency,
                prune=prune,
                prune_namespaces=prune_namespaces,
                yes=yes,
                adopt=adopt,
                force_conflicts=force_conflicts,
                dry_run=dry_run == "server",
                quiet=quiet,
            )
        )
    )


async def _apply(
    spec_id: str,
    desired: list[Obj],
    connection: config.Connection,
    *,
    concurrency: int,
    prune: bool,
    prune_namespaces: bool,
    yes: bool,
    adopt: bool,
    force_conflicts: bool,
    dry_run: bool,
    quiet: bool,
) -> int:
    # aiohttp is imported here, not at module level: every other command starts faster.
    from tenantctl.apply import run
    from tenantctl.kube.client import Client
    from tenantctl.kube.discovery import Discovery

    suffix = " (server dry run)" if dry_run else ""
    async with Client.connect(connection, concurrency=concurrency) as client:
        discovery = Discovery(client)
        resources = await run.resolve_kinds(discovery, desired)
        state = await run.fetch_live(client, resources, spec_id)
        the_plan = planning.make_plan(desired, state.owned, state.namespaces, spec_id, adopt=adopt)
        if the_plan.refused:
            _refusals(the_plan)
            click.secho("Nothing was applied.", fg="red", err=True)
            return EXIT_REFUSED
        for key in the_plan.adopted:
            click.echo(f"namespace/{key[3]} adopted{suffix}")
        total = len(the_plan.to_apply)
        if total >= PROGRESS_THRESHOLD and sys.stderr.isatty():
            with click.progressbar(length=total, label="applying", file=sys.stderr) as bar:
                outcome = await run.apply_objects(
                    client,
                    state,
                    the_plan,
                    force_conflicts=force_conflicts,
                    dry_run=dry_run,
                    concurrency=concurrency,
                    progress=bar.update,
                )
        else:
            outcome = await run.apply_objects(
                client,
                state,
                the_plan,
                force_conflicts=force_conflicts,
                dry_run=dry_run,
                concurrency=concurrency,
            )
        refused = False
        if prune:
            await run.delete_objects(
                client, state, the_plan.prune, outcome, dry_run=dry_run, concurrency=concurrency
            )
            for name in the_plan.stale_namespaces:
                if not prune_namespaces:
                    click.echo(
                        f"namespace/{name} is no longer in the spec; kept (delete it with "
                        "--prune-namespaces)"
                    )
                    continue
                if not await _delete_namespace(
                    client, discovery, state, name, outcome, yes=yes, dry_run=dry_run
                ):
                    refused = True
        elif the_plan.prune or the_plan.stale_namespaces:
            count = len(the_plan.prune) + len(the_plan.stale_namespaces)
            click.echo(f"{count} objects are no longer rendered; --prune deletes them.")
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
        return EXIT_FAILED
    return EXIT_REFUSED if refused else EXIT_OK


async def _delete_namespace(
    client: Client,
    discovery: Discovery,
    state: run.LiveState,
    name: str,
    outcome: run.Outcome,
    *,
    yes: bool,
    dry_run: bool,
) -> bool:
    """List what the namespace holds, confirm, delete. False when not confirmed."""
    from tenantctl.apply import run

    contents, unreadable = await run.namespace_contents(client, discovery, name)
    click.echo(f"namespace/{name} is no longer in the spec and would be deleted with:")
    if contents:
        for kind, count in contents.items():
            click.echo(f"  {count} {kind}")
    else:
        click.echo("  nothing but the defaults")
    if unreadable:
        click.echo(f"  (not readable with these credentials: {', '.join(unreadable)})")
    if not yes:
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
    await run.delete_objects(
        client, state, [("", "Namespace", "", name)], outcome, dry_run=dry_run, concurrency=1
    )
    return True


@click.command()
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
    desired = _desired(tenantset)
    connection = _connection(kubeconfig, context)
    sys.exit(
        _run(_diff(tenantset.spec_id, desired, connection, concurrency=concurrency, prune=prune))
    )


async def _diff(
    spec_id: str,
    desired: list[Obj],
    connection: config.Connection,
    *,
    concurrency: int,
    prune: bool,
) -> int:
    from tenantctl.apply import diffing, run
    from tenantctl.kube.client import Client
    from tenantctl.kube.discovery import Discovery

    diffs: dict[Key, str] = {}
    failures: list[tuple[Key, str]] = []
    async with Client.connect(connection, concurrency=concurrency) as client:
        discovery = Discovery(client)
        resources = await run.resolve_kinds(discovery, desired)
        state = await run.fetch_live(client, resources, spec_id)
        the_plan = planning.make_plan(desired, state.owned, state.namespaces, spec_id, adopt=True)
        new_namespaces = {key[3] for key in the_plan.absent if key[1] == "Namespace"}
        limit = asyncio.Semaphore(concurrency)

        async def one(obj: Obj) -> None:
            key = planning.object_key(obj)
            resource = state.resources[(key[0], key[1])]
            path = resource.path(key[2] or None, key[3])
            async with limit:
                before = state.owned.get(key)
                try:
                    brand_new = key[2] in new_namespaces or (
                        key[1] == "Namespace" and key[3] in new_namespaces
                    )
                    if before is None and not brand_new:
                        # Not this spec's yet, but it may exist (unlabelled, or to be adopted).
                        try:
                            before = await client.get(path)
                        except errors.NotFound:
                            before = None
                    if key[2] in new_namespaces:
                        after = obj  # the namespace does not exist yet: no dry run possible
                    else:
                        after = await client.apply(
                            path, obj, field_manager=run.FIELD_MANAGER, force=True, dry_run=True
                        )
                except errors.ApiError as err:
                    failures.append((key, str(err)))
                    return
            text = diffing.unified(key, before, after)
            if text:
                diffs[key] = text

        await asyncio.gather(*(one(obj) for obj in the_plan.to_apply))
        if prune:
            for key in the_plan.prune:
                diffs[key] = diffing.unified(key, state.owned[key], None)
            for name in the_plan.stale_namespaces:
                key = ("", "Namespace", "", name)
                diffs[key] = diffing.unified(key, state.owned[key], None)
    for key in sorted(diffs):
        click.echo(diffing.colour(diffs[key]), nl=False)
    for key in the_plan.adopted:
        click.secho(
            f"note: namespace/{key[3]} exists and is not this spec's: apply needs --adopt",
            fg="yellow",
            err=True,
        )
    for key, message in sorted(failures):
        click.secho(f"failed: {describe(key)}: {message}", fg="red", err=True)
    if failures:
        return EXIT_CLUSTER
    return EXIT_FAILED if diffs else EXIT_OK
