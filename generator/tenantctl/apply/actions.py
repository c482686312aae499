"""``apply``, ``diff`` and prune as library calls: a rendered spec and a connection in, a result
out.

The ``apply`` and ``diff`` commands (``apply/command.py``) only parse flags, call one function
here, print its result and pick the exit code. Nothing here prints: the one decision that needs
a person, deleting a Namespace, is asked through the ``confirm`` callback, and progress goes to
an optional ``progress`` callback. Cluster problems raise ``tenantctl.kube.errors.KubeError``.
aiohttp is imported only inside the functions that talk to a cluster, so commands that never
do start faster.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tenantctl import interrupts
from tenantctl.apply import plan as planning
from tenantctl.apply.plan import Key, Obj
from tenantctl.kube import config, errors
from tenantctl.render.bundle import render
from tenantctl.spec.model import TenantSet

if TYPE_CHECKING:
    from tenantctl.apply import run
    from tenantctl.kube.client import Client
    from tenantctl.kube.discovery import Discovery


@dataclass(frozen=True)
class ApplyOptions:
    concurrency: int = 64
    prune: bool = False
    prune_namespaces: bool = False
    adopt: bool = False
    force_conflicts: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class NamespaceDeletion:
    """A stale Namespace about to be deleted, with what it still holds."""

    name: str
    contents: dict[str, int]  # kind -> count, defaults excluded
    unreadable: list[str]  # resources these credentials cannot list


@dataclass
class ApplyResult:
    refused: list[planning.Refusal] = field(default_factory=list)  # nothing was applied
    adopted: list[Key] = field(default_factory=list)
    kept_namespaces: list[str] = field(default_factory=list)  # stale, no --prune-namespaces
    declined_namespaces: list[str] = field(default_factory=list)  # confirmation not given
    not_pruned: int = 0  # objects no longer rendered, left because prune was off
    outcome: run.Outcome | None = None

    @property
    def failed(self) -> bool:
        return self.outcome is not None and bool(self.outcome.failed)


@dataclass
class DiffResult:
    diffs: dict[Key, str] = field(default_factory=dict)  # unified diff text per object
    adopted: list[Key] = field(default_factory=list)  # exist, not this spec's: need --adopt
    failures: list[tuple[Key, str]] = field(default_factory=list)


def _no_progress(done: int) -> None:
    pass


def desired_objects(tenantset: TenantSet) -> list[Obj]:
    """What apply sends: every rendered object, with its applied-hash annotation."""
    return [planning.with_applied_hash(obj) for obj in render(tenantset).all_manifests()]


def connect(kubeconfig: Path | None, context: str | None) -> config.Connection:
    """The kubeconfig's connection (raises ``errors.ConfigError`` saying what to fix)."""
    return config.load(kubeconfig, context)


def apply(
    tenantset: TenantSet,
    connection: config.Connection,
    options: ApplyOptions,
    *,
    confirm: Callable[[NamespaceDeletion], bool],
    progress: Callable[[int], Callable[[int], None]] | None = None,
) -> ApplyResult:
    """Server-side apply ``tenantset``'s objects; prune what is no longer rendered if asked.

    ``progress(total)``, if given, is called once with the number of objects to apply and
    returns a callback that receives each batch done."""
    return interrupts.run(
        _apply(
            tenantset.spec_id,
            desired_objects(tenantset),
            connection,
            options,
            confirm=confirm,
            progress=progress,
        )
    )


async def _apply(
    spec_id: str,
    desired: list[Obj],
    connection: config.Connection,
    options: ApplyOptions,
    *,
    confirm: Callable[[NamespaceDeletion], bool],
    progress: Callable[[int], Callable[[int], None]] | None,
) -> ApplyResult:
    from tenantctl.apply import run
    from tenantctl.kube.client import Client
    from tenantctl.kube.discovery import Discovery

    result = ApplyResult()
    async with Client.connect(connection, concurrency=options.concurrency) as client:
        discovery = Discovery(client)
        resources = await run.resolve_kinds(discovery, desired)
        state = await run.fetch_live(client, resources, spec_id)
        the_plan = planning.make_plan(
            desired, state.owned, state.namespaces, spec_id, adopt=options.adopt
        )
        if the_plan.refused:
            result.refused = list(the_plan.refused)
            return result
        result.adopted = list(the_plan.adopted)
        advance = progress(len(the_plan.to_apply)) if progress is not None else None
        outcome = await run.apply_objects(
            client,
            state,
            the_plan,
            force_conflicts=options.force_conflicts,
            dry_run=options.dry_run,
            concurrency=options.concurrency,
            progress=advance if advance is not None else _no_progress,
        )
        result.outcome = outcome
        if options.prune:
            await run.delete_objects(
                client,
                state,
                the_plan.prune,
                outcome,
                dry_run=options.dry_run,
                concurrency=options.concurrency,
            )
            for name in the_plan.stale_namespaces:
                if not options.prune_namespaces:
                    result.kept_namespaces.append(name)
                    continue
                if not await _delete_namespace(
                    client, discovery, state, name, outcome, confirm, dry_run=options.dry_run
                ):
                    result.declined_namespaces.append(name)
        else:
            result.not_pruned = len(the_plan.prune) + len(the_plan.stale_namespaces)
    return result


async def _delete_namespace(
    client: Client,
    discovery: Discovery,
    state: run.LiveState,
    name: str,
    outcome: run.Outcome,
    confirm: Callable[[NamespaceDeletion], bool],
    *,
    dry_run: bool,
) -> bool:
    """Find what the namespace holds, ask ``confirm``, delete. False when not confirmed."""
    from tenantctl.apply import run

    contents, unreadable = await run.namespace_contents(client, discovery, name)
    if not confirm(NamespaceDeletion(name, contents, unreadable)):
        return False
    await run.delete_objects(
        client, state, [("", "Namespace", "", name)], outcome, dry_run=dry_run, concurrency=1
    )
    return True


def diff(
    tenantset: TenantSet,
    connection: config.Connection,
    *,
    concurrency: int = 64,
    prune: bool = False,
) -> DiffResult:
    """What apply would change, object by object, against the server's dry run of the apply."""
    return interrupts.run(
        _diff(
            tenantset.spec_id,
            desired_objects(tenantset),
            connection,
            concurrency=concurrency,
            prune=prune,
        )
    )


async def _diff(
    spec_id: str,
    desired: list[Obj],
    connection: config.Connection,
    *,
    concurrency: int,
    prune: bool,
) -> DiffResult:
    from tenantctl.apply import diffing, run
    from tenantctl.kube.client import Client
    from tenantctl.kube.discovery import Discovery

    result = DiffResult()
    async with Client.connect(connection, concurrency=concurrency) as client:
        discovery = Discovery(client)
        resources = await run.resolve_kinds(discovery, desired)
        state = await run.fetch_live(client, resources, spec_id)
        the_plan = planning.make_plan(desired, state.owned, state.namespaces, spec_id, adopt=True)
        result.adopted = list(the_plan.adopted)
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
                    result.failures.append((key, str(err)))
                    return
            text = diffing.unified(key, before, after)
            if text:
                result.diffs[key] = text

        await asyncio.gather(*(one(obj) for obj in the_plan.to_apply))
        if prune:
            for key in the_plan.prune:
                result.diffs[key] = diffing.unified(key, state.owned[key], None)
            for name in the_plan.stale_namespaces:
                key = ("", "Namespace", "", name)
                result.diffs[key] = diffing.unified(key, state.owned[key], None)
    result.failures.sort()
    return result
