"""What an apply will do, computed purely from the rendered objects and the live ones.

Safety rules (docs/design.md §9, lessons 1 and 4) live here, where they can be tested
without a cluster:

- Prune candidates are live objects carrying tenantctl's ownership labels *for this spec id*
  that the rendering no longer contains. Nothing without both labels is ever a candidate, even if
  a caller hands such an object in.
- Namespaces are never pruned with the other objects; they are listed separately and deleted only
  by an explicit, confirmed ``--prune-namespaces``.
- A rendered Namespace that exists but is not this spec's is refused, unless ``--adopt``.
- Admission parameters go before every other object but Namespaces: a binding whose parameters
  are missing denies (``parameterNotFoundAction: Deny``), so they must exist before the bindings
  and before the objects those bindings judge. Bindings go after their policies: the API server
  authorises a binding's ``paramRef`` against its policy's ``paramKind``, and without the policy
  demands ``get`` on every resource.
- An object is skipped as unchanged only when its applied-hash annotation matches (the fields
  tenantctl sets are the same as last time) *and* every rendered field still has its rendered
  value live (nobody changed them since). Anything else is applied; server-side apply is
  idempotent, so applying too much is slow, never wrong.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from tenantctl import labels

Obj = dict[str, Any]
# (API group, kind, namespace or "", name): apiVersion changes do not change identity.
Key = tuple[str, str, str, str]


def object_key(obj: Obj) -> Key:
    meta = obj["metadata"]
    group = obj["apiVersion"].rpartition("/")[0]
    return (group, obj["kind"], meta.get("namespace") or "", meta["name"])


def describe(key: Key) -> str:
    group, kind, namespace, name = key
    kind_name = f"{kind}.{group}" if group else kind
    return f"{kind_name}/{name}" + (f" in {namespace}" if namespace else "")


def applied_hash(obj: Obj) -> str:
    """sha256 of the rendered object's canonical JSON (without the hash annotation itself)."""
    annotations = obj["metadata"].get("annotations") or {}
    if labels.APPLIED_HASH in annotations:
        plain = copy.deepcopy(obj)
        rest = plain["metadata"]["annotations"]
        rest.pop(labels.APPLIED_HASH)
        if not rest:
            plain["metadata"].pop("annotations")
        obj = plain
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def with_applied_hash(obj: Obj) -> Obj:
    """``obj`` with its applied-hash annotation; shares everything but the metadata."""
    digest = applied_hash(obj)
    metadata = dict(obj["metadata"])
    metadata["annotations"] = {**(metadata.get("annotations") or {}), labels.APPLIED_HASH: digest}
    return {**obj, "metadata": metadata}


def owner_of(obj: Obj) -> tuple[str | None, str | None]:
    """(managed-by, spec id) labels of a live object."""
    found = (obj.get("metadata") or {}).get("labels") or {}
    return found.get(labels.MANAGED_BY), found.get(labels.SPEC_ID)


def owned_by(obj: Obj, spec_id: str) -> bool:
    return owner_of(obj) == (labels.MANAGED_BY_VALUE, spec_id)


def ownership_selector(spec_id: str) -> str:
    return f"{labels.MANAGED_BY}={labels.MANAGED_BY_VALUE},{labels.SPEC_ID}={spec_id}"


# Objects every spec renders alike (tenantctl.render.meta.shared_metadata): tenantctl's, no spec's.
SHARED_SELECTOR = f"{labels.MANAGED_BY}={labels.MANAGED_BY_VALUE},!{labels.SPEC_ID}"


def is_shared(obj: Obj) -> bool:
    """A rendered object that every spec renders alike (no spec id)."""
    return labels.SPEC_ID not in ((obj.get("metadata") or {}).get("labels") or {})


def covers(desired: Any, live: Any) -> bool:
    """Every field of ``desired`` has the same value in ``live`` (which may have more fields)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(
            key in live and covers(value, live[key]) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(desired) == len(live)
            and all(covers(d, v) for d, v in zip(desired, live, strict=True))
        )
    return bool(desired == live)


def unchanged(desired: Obj, live: Obj | None) -> bool:
    """``desired`` carries its applied hash (``with_applied_hash``)."""
    if live is None:
        return False
    want = desired["metadata"]["annotations"][labels.APPLIED_HASH]
    have = ((live.get("metadata") or {}).get("annotations") or {}).get(labels.APPLIED_HASH)
    return want == have and covers(desired, live)


@dataclass(frozen=True)
class Refusal:
    key: Key
    reason: str


@dataclass(frozen=True)
class Plan:
    # Namespaces and other cluster-scoped objects: applied first, so namespaced ones have a home.
    cluster_scoped: list[Obj]
    namespaced: list[Obj]
    unchanged: list[Key]
    # Keys with no live object before the apply (created, unless the apply fails).
    absent: frozenset[Key]
    # Existing namespaces taken over with --adopt (applied with force).
    adopted: list[Key]
    refused: list[Refusal]
    # Owned by this spec, no longer rendered: namespaced objects first, then cluster-scoped.
    prune: list[Key]
    # Owned namespaces no longer rendered: deleted only with --prune-namespaces and confirmation.
    stale_namespaces: list[str] = field(default_factory=list)

    @property
    def to_apply(self) -> list[Obj]:
        return [*self.cluster_scoped, *self.namespaced]

    def waves(self) -> list[list[Obj]]:
        """``to_apply`` in the order it must reach the cluster, each wave after the previous:
        Namespaces; the admission parameters rendered bindings name; other cluster-scoped
        objects but the bindings; the bindings; the rest."""
        parameters = parameter_keys(self.to_apply)
        waves: list[list[Obj]] = [[], [], [], [], []]
        for obj in self.to_apply:
            key = object_key(obj)
            if key[:2] == ("", "Namespace"):
                waves[0].append(obj)
            elif key in parameters:
                waves[1].append(obj)
            elif obj["kind"] == "ValidatingAdmissionPolicyBinding":
                waves[3].append(obj)
            elif not key[2]:
                waves[2].append(obj)
            else:
                waves[4].append(obj)
        return [wave for wave in waves if wave]


def parameter_keys(objects: list[Obj]) -> set[Key]:
    """Keys of the ConfigMaps that the ValidatingAdmissionPolicyBindings among ``objects`` read."""
    keys = set()
    for obj in objects:
        if obj["kind"] != "ValidatingAdmissionPolicyBinding":
            continue
        ref = (obj.get("spec") or {}).get("paramRef") or {}
        if "name" in ref:
            keys.add(("", "ConfigMap", ref.get("namespace") or "", ref["name"]))
    return keys


def _refusal_reason(obj: Obj, spec_id: str) -> str:
    managed_by, spec = owner_of(obj)
    if managed_by == labels.MANAGED_BY_VALUE:
        return f"it belongs to tenantctl spec {spec!r}, not {spec_id!r}"
    if managed_by:
        return f"it is managed by {managed_by!r}"
    return "it exists and tenantctl does not manage it"


def make_plan(
    desired: list[Obj],
    owned_live: dict[Key, Obj],
    live_namespaces: dict[str, Obj],
    spec_id: str,
    *,
    adopt: bool,
) -> Plan:
    """``desired``: rendered objects with applied hashes. ``owned_live``: live objects listed
    with this spec's ownership selector. ``live_namespaces``: every live Namespace (metadata)."""
    cluster_scoped: list[Obj] = []
    namespaced: list[Obj] = []
    skipped: list[Key] = []
    absent: set[Key] = set()
    adopted: list[Key] = []
    refused: list[Refusal] = []
    desired_keys = set()
    for obj in desired:
        key = object_key(obj)
        desired_keys.add(key)
        live = owned_live.get(key)
        if key[1] == "Namespace" and key[0] == "":
            existing = live_namespaces.get(key[3])
            if existing is not None and not owned_by(existing, spec_id):
                if not adopt:
                    refused.append(Refusal(key, _refusal_reason(existing, spec_id)))
                    continue
                adopted.append(key)
            elif existing is None:
                absent.add(key)
        elif live is None:
            absent.add(key)
        if unchanged(obj, live):
            skipped.append(key)
        elif key[2]:
            namespaced.append(obj)
        else:
            cluster_scoped.append(obj)
    cluster_scoped.sort(key=lambda o: (o["kind"] != "Namespace", object_key(o)))

    stale = [
        key
        for key, live in owned_live.items()
        if key not in desired_keys and owned_by(live, spec_id)
    ]
    prune = sorted(
        (key for key in stale if not (key[0] == "" and key[1] == "Namespace")),
        key=lambda k: (k[2] == "", k),
    )
    stale_namespaces = sorted(key[3] for key in stale if key[0] == "" and key[1] == "Namespace")
    return Plan(
        cluster_scoped,
        namespaced,
        skipped,
        frozenset(absent),
        adopted,
        refused,
        prune,
        stale_namespaces,
    )
