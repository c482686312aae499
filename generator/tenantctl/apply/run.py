"""Carry out a plan against the cluster: fetch live state, apply, prune, list namespace contents.

Order matters for a cluster that starts empty and for one that is interrupted: Namespaces and
other cluster-scoped objects first (all of them, concurrently), then namespaced objects with
bounded concurrency. Every step is a server-side apply, so a run killed half-way leaves objects
that the next run recognises and completes: it converges.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tenantctl import kinds
from tenantctl.apply import plan as planning
from tenantctl.apply.plan import Key, Obj
from tenantctl.kube import errors
from tenantctl.kube.client import Client
from tenantctl.kube.discovery import Discovery, Resource

FIELD_MANAGER = "tenantctl"
# Always-present objects that do not make a namespace "still in use".
NAMESPACE_DEFAULTS = {("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")}
ADMISSION_KINDS = frozenset({"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"})


@dataclass
class Outcome:
    created: list[Key] = field(default_factory=list)
    configured: list[Key] = field(default_factory=list)
    unchanged: list[Key] = field(default_factory=list)
    pruned: list[Key] = field(default_factory=list)
    failed: list[tuple[Key, str]] = field(default_factory=list)


@dataclass(frozen=True)
class LiveState:
    owned: dict[Key, Obj]
    namespaces: dict[str, Obj]
    resources: dict[tuple[str, str], Resource]


async def resolve_kinds(
    discovery: Discovery, rendered: Iterable[Obj]
) -> dict[tuple[str, str], Resource]:
    """Resources for every rendered kind (which must be served) and every kind tenantctl may
    have rendered before (skipped when not served: nothing of that kind can exist)."""
    wanted = {(obj["apiVersion"], obj["kind"]) for obj in rendered}
    required = set(wanted)
    wanted |= {(kind.api_version, kind.kind) for kind in kinds.RENDERED_KINDS}
    found = await asyncio.gather(*(discovery.find(v, k) for v, k in sorted(wanted)))
    resources: dict[tuple[str, str], Resource] = {}
    for (api_version, kind), resource in zip(sorted(wanted), found, strict=True):
        if resource is None:
            if (api_version, kind) in required:
                await discovery.resource(api_version, kind)  # raises KindNotServed
            continue
        resources[(resource.group, kind)] = resource
    return resources


async def fetch_live(
    client: Client, resources: dict[tuple[str, str], Resource], spec_id: str
) -> LiveState:
    """One LIST per kind with this spec's ownership selector, one more per cluster-scoped kind
    for the objects every spec renders alike (owned by none, never pruned), plus every
    Namespace's metadata."""

    async def owned(resource: Resource, selector: str) -> list[Obj]:
        items = await client.list_items(resource.path(), label_selector=selector)
        for item in items:
            item["apiVersion"], item["kind"] = resource.api_version, resource.kind
        return items

    lists = [(r, planning.ownership_selector(spec_id)) for r in resources.values()]
    lists += [
        (r, planning.SHARED_SELECTOR)
        for r in resources.values()
        if not r.namespaced and r.kind != kinds.NAMESPACE.kind
    ]
    namespace_resource = resources[("", kinds.NAMESPACE.kind)]
    listed, namespaces = await asyncio.gather(
        asyncio.gather(*(owned(r, selector) for r, selector in lists)),
        client.list_items(namespace_resource.path(), metadata_only=True),
    )
    owned_live = {planning.object_key(item): item for items in listed for item in items}
    by_name = {item["metadata"]["name"]: item for item in namespaces}
    return LiveState(owned_live, by_name, resources)


def _resource_of(state: LiveState, key: Key) -> Resource:
    return state.resources[(key[0], key[1])]


async def apply_objects(
    client: Client,
    state: LiveState,
    the_plan: planning.Plan,
    *,
    force_conflicts: bool,
    dry_run: bool,
    concurrency: int,
    progress: Callable[[int], None] = lambda done: None,
) -> Outcome:
    outcome = Outcome(unchanged=list(the_plan.unchanged))
    limit = asyncio.Semaphore(concurrency)
    adopted = set(the_plan.adopted)

    # A dry run creates no Namespace, so the server cannot check objects inside a new one.
    new_namespaces = {k[3] for k in the_plan.absent if k[:2] == ("", "Namespace")}

    async def one(obj: Obj) -> None:
        key = planning.object_key(obj)
        resource = _resource_of(state, key)
        path = resource.path(key[2] or None, key[3])
        if dry_run and key[2] in new_namespaces:
            outcome.created.append(key)
            progress(1)
            return
        async with limit:
            try:
                result = await client.apply(
                    path,
                    obj,
                    field_manager=FIELD_MANAGER,
                    # Objects every spec renders alike may have been applied by another tool
                    # (Helm, Flux) for another spec: the same values, so taking them is safe.
                    force=force_conflicts or key in adopted or planning.is_shared(obj),
                    dry_run=dry_run,
                )
            except errors.Conflict as err:
                outcome.failed.append(
                    (key, f"{err.message} (rerun with --force-conflicts to take these fields over)")
                )
                return
            except errors.NotFound as err:
                hint = ""
                if key[2] and f'namespaces "{key[2]}" not found' in err.message:
                    hint = f" (namespace {key[2]} is not rendered by this spec: create it first)"
                outcome.failed.append((key, f"{err}{hint}"))
                return
            except errors.ApiError as err:
                outcome.failed.append((key, str(err)))
                return
            finally:
                progress(1)
        live = state.owned.get(key)
        before = (live or {}).get("metadata", {}).get("resourceVersion")
        after = (result.get("metadata") or {}).get("resourceVersion")
        if key in the_plan.absent:
            outcome.created.append(key)
        elif before is not None and before == after:
            outcome.unchanged.append(key)
        else:
            outcome.configured.append(key)

    # Namespaces first (a namespaced object needs its Namespace), then the admission parameters
    # (a binding without them denies), then the rest of the cluster-scoped objects, then the rest.
    for wave in the_plan.waves():
        await asyncio.gather(*(one(obj) for obj in wave))
    return outcome


async def delete_objects(
    client: Client,
    state: LiveState,
    keys: list[Key],
    outcome: Outcome,
    *,
    dry_run: bool,
    concurrency: int,
) -> None:
    """Delete ``keys`` (namespaced ones first, then cluster-scoped), each tolerated if gone.
    After a failed apply, admission policies and bindings are kept: their replacements may be
    what failed, and deleting them would leave tenant namespaces unprotected."""
    limit = asyncio.Semaphore(concurrency)
    if outcome.failed:
        held = [key for key in keys if key[1] in ADMISSION_KINDS]
        keys = [key for key in keys if key[1] not in ADMISSION_KINDS]
        outcome.failed.extend(
            (key, "kept: the apply failed, and its replacement may be what failed") for key in held
        )

    async def one(key: Key) -> None:
        path = _resource_of(state, key).path(key[2] or None, key[3])
        async with limit:
            try:
                await client.delete(path, dry_run=dry_run)
            except errors.NotFound:
                pass
            except errors.ApiError as err:
                outcome.failed.append((key, f"delete: {err}"))
                return
        outcome.pruned.append(key)

    namespaced = [key for key in keys if key[2]]
    cluster = [key for key in keys if not key[2]]
    await asyncio.gather(*(one(key) for key in namespaced))
    await asyncio.gather(*(one(key) for key in cluster))


async def namespace_contents(
    client: Client, discovery: Discovery, namespace: str
) -> tuple[dict[str, int], list[str]]:
    """What ``namespace`` still holds, by kind (defaults excluded), and what could not be read."""
    counts: dict[str, int] = {}
    unreadable: list[str] = []

    async def count(resource: Resource) -> None:
        try:
            items = await client.list_items(resource.path(namespace), metadata_only=True, limit=500)
        except errors.ApiError:
            unreadable.append(resource.plural)
            return
        names = [
            item["metadata"]["name"]
            for item in items
            if (resource.kind, item["metadata"]["name"]) not in NAMESPACE_DEFAULTS
        ]
        if names:
            counts[resource.kind] = counts.get(resource.kind, 0) + len(names)

    resources = await discovery.all_listable_namespaced()
    # Events come and go with everything else; they say nothing about what would be lost.
    await asyncio.gather(*(count(r) for r in resources if r.kind != "Event"))
    return dict(sorted(counts.items())), sorted(unreadable)
