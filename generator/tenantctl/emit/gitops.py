"""Argo CD and Flux objects that sync the Kustomize tree from git, one unit per tenant.

Both follow the same rules (docs/design.md §9, lessons 1 and 2):

- One owner per object: the GitOps tool syncs exactly the generated tree; tenantctl never
  applies what a GitOps tool owns.
- A tenant's sync can only touch that tenant: Argo CD puts each namespace overlay in an AppProject
  whose destinations are the tenant's namespaces, whose only cluster-scoped resources are those
  Namespace objects (by name) and whose namespaced kinds are exactly what tenantctl renders there.
  Flux reconciles each tenant as the ``tenantctl-applier`` ServiceAccount, whose ClusterRole covers
  exactly the kinds tenantctl renders.
- Nothing cascades: Namespaces carry Argo CD's ``Prune=false,Delete=false`` and Flux's
  ``prune: disabled`` (set by the Namespace renderer); the ApplicationSet preserves resources when
  an Application goes away, and no Application carries the cascading-delete finalizer.

The objects are built as dicts (no templating) and validated with kubeconform against the Argo CD
and Flux CRD schemas like every other output. ``--repo-url``, ``--revision`` and
``--path-prefix`` describe delivery, which is why they are CLI options and not spec fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from tenantctl import kinds, labels
from tenantctl.emit import kustomize, names
from tenantctl.emit.kustomize import KUSTOMIZE_API
from tenantctl.emit.yamlio import dump_documents, generated_header
from tenantctl.render.bundle import Rendering
from tenantctl.render.meta import Manifest, manifest, metadata
from tenantctl.spec.model import TenantSet

Tool = Literal["argocd", "flux"]
TOOLS: tuple[Tool, ...] = ("argocd", "flux")

ARGOCD_API = "argoproj.io/v1alpha1"
FLUX_KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
FLUX_SOURCE_API = "source.toolkit.fluxcd.io/v1"
RBAC_API = "rbac.authorization.k8s.io/v1"

DEFAULT_NAMESPACE: dict[Tool, str] = {"argocd": "argocd", "flux": "flux-system"}
IN_CLUSTER = "https://kubernetes.default.svc"
APPLIER = "tenantctl-applier"
# Argo CD's controller identity, which must be one of the spec's managers for the admission
# policies to let it change tenantctl's objects.
ARGOCD_CONTROLLER = "argocd-application-controller"
FLUX_CONTROLLER = "kustomize-controller"

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Delivery:
    """Where the generated tree lives in git and where the GitOps objects go."""

    tool: Tool
    repo_url: str
    revision: str = "main"
    # Folder of the `tenantctl generate` output inside the repository ("" for its root).
    path_prefix: str = ""
    namespace: str = ""
    destination_server: str = IN_CLUSTER

    @property
    def gitops_namespace(self) -> str:
        return self.namespace or DEFAULT_NAMESPACE[self.tool]

    def repo_path(self, relative: str) -> str:
        prefix = self.path_prefix.strip("/")
        return f"{prefix}/{relative}" if prefix else relative


@dataclass(frozen=True)
class GitopsOutput:
    files: dict[str, list[Manifest]]
    # Things the platform team must do for the output to work, worded as instructions.
    notes: list[str]


def delivery_labels(tenantset: TenantSet, tenant: str | None = None) -> dict[str, str]:
    """Labels of the GitOps objects: which spec (and tenant) they deliver, but deliberately not
    ``managed-by: tenantctl``. The platform team applies them; `tenantctl apply --prune` selects
    on managed-by and must never delete the machinery that syncs the tenants."""
    result = {labels.PART_OF: labels.MANAGED_BY_VALUE, labels.SPEC_ID: tenantset.spec_id}
    if tenant is not None:
        result[labels.TENANT] = tenant
    return result


def output_folder(tool: Tool) -> str:
    return f"gitops/{tool}"


def _api_group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _group_kinds(objects: list[Manifest]) -> list[dict[str, str]]:
    pairs = sorted({(_api_group(obj["apiVersion"]), obj["kind"]) for obj in objects})
    return [{"group": group, "kind": kind} for group, kind in pairs]


def _is_namespaced(obj: Manifest) -> bool:
    return "namespace" in obj["metadata"]


def _manager_note(tenantset: TenantSet, namespace: str, name: str, what: str) -> list[str]:
    accounts = tenantset.platform.managers.service_accounts
    if any(sa.namespace == namespace and sa.name == name for sa in accounts):
        return []
    return [
        f"add {{namespace: {namespace}, name: {name}}} to spec.platform.managers.serviceAccounts "
        f"so the admission policies let {what} change tenantctl's objects"
    ]


def argocd(tenantset: TenantSet, rendering: Rendering, delivery: Delivery) -> GitopsOutput:
    spec_id = tenantset.spec_id
    ns = delivery.gitops_namespace
    owned = delivery_labels(tenantset)
    server = delivery.destination_server
    platform_project = names.fit(f"tenantctl-{spec_id}-platform")

    shared = [obj for objects in rendering.shared.values() for obj in objects]
    projects = [
        manifest(
            ARGOCD_API,
            "AppProject",
            metadata(platform_project, owned, namespace=ns),
            spec={
                "description": f"tenantctl {spec_id}: cluster-wide objects and the gateway's",
                "sourceRepos": [delivery.repo_url],
                "destinations": [
                    {"server": server, "namespace": name}
                    for name in sorted(
                        {o["metadata"]["namespace"] for o in shared if _is_namespaced(o)}
                    )
                ],
                "clusterResourceWhitelist": [
                    {
                        "group": _api_group(o["apiVersion"]),
                        "kind": o["kind"],
                        "name": o["metadata"]["name"],
                    }
                    for o in shared
                    if not _is_namespaced(o)
                ],
                "namespaceResourceWhitelist": _group_kinds(
                    [o for o in shared if _is_namespaced(o)]
                ),
            },
        )
    ]
    by_tenant: dict[str, list[tuple[str, list[Manifest]]]] = {}
    for ns_files in rendering.namespaces:
        objects = [obj for docs in ns_files.files.values() for obj in docs]
        by_tenant.setdefault(ns_files.tenant, []).append((ns_files.namespace, objects))
    for tenant, namespaces in by_tenant.items():
        objects = [obj for _, objs in namespaces for obj in objs]
        projects.append(
            manifest(
                ARGOCD_API,
                "AppProject",
                metadata(
                    project_name(spec_id, tenant), delivery_labels(tenantset, tenant), namespace=ns
                ),
                spec={
                    "description": f"tenantctl {spec_id}: tenant {tenant}, its namespaces only",
                    "sourceRepos": [delivery.repo_url],
                    "destinations": [
                        {"server": server, "namespace": name} for name, _ in namespaces
                    ],
                    # The overlay holds the tenant's own Namespace objects and nothing else
                    # cluster-scoped.
                    "clusterResourceWhitelist": [
                        {"group": "", "kind": kinds.NAMESPACE.kind, "name": name}
                        for name, _ in namespaces
                    ],
                    "namespaceResourceWhitelist": _group_kinds(
                        [o for o in objects if _is_namespaced(o)]
                    ),
                },
            )
        )

    sync_options = ["ServerSideApply=true", "CreateNamespace=false", "PruneLast=true"]

    def shared_application(name: str, path: str) -> Manifest:
        return manifest(
            ARGOCD_API,
            "Application",
            metadata(names.fit(name), owned, namespace=ns),
            spec={
                "project": platform_project,
                "source": {
                    "repoURL": delivery.repo_url,
                    "targetRevision": delivery.revision,
                    "path": delivery.repo_path(path),
                },
                "destination": {"server": server},
                "syncPolicy": {
                    "automated": {"prune": True, "selfHeal": True},
                    "syncOptions": sync_options,
                },
            },
        )

    # The policies in an Application of their own: the base's bindings can only be created
    # once the policies exist (emit/kustomize.py), and automated sync retries the base until then.
    admission = shared_application(f"tenantctl-{spec_id}-admission", kustomize.ADMISSION_BASE)
    base = shared_application(f"tenantctl-{spec_id}-base", kustomize.SHARED_BASE)
    depth = len([part for part in delivery.path_prefix.split("/") if part])
    application_set = manifest(
        ARGOCD_API,
        "ApplicationSet",
        metadata(names.fit(f"tenantctl-{spec_id}-namespaces"), owned, namespace=ns),
        spec={
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [
                {
                    "git": {
                        "repoURL": delivery.repo_url,
                        "revision": delivery.revision,
                        "directories": [{"path": delivery.repo_path("overlays/*/*")}],
                    }
                }
            ],
            # Removing a namespace's folder (or this ApplicationSet) deletes the Application but
            # leaves its objects in the cluster: deletion is `tenantctl apply --prune`'s job.
            "syncPolicy": {"preserveResourcesOnDeletion": True},
            "template": {
                "metadata": {
                    "name": names.argocd_template(
                        f"tenantctl-{spec_id}-",
                        ".path.basename",
                        [n.name for n in tenantset.namespaces()],
                    ),
                    "labels": {
                        **owned,
                        labels.TENANT: f"{{{{ index .path.segments {depth + 1} }}}}",
                    },
                },
                "spec": {
                    "project": names.argocd_template(
                        f"tenantctl-{spec_id}-",
                        f"index .path.segments {depth + 1}",
                        [t.name for t in tenantset.tenants],
                    ),
                    "source": {
                        "repoURL": delivery.repo_url,
                        "targetRevision": delivery.revision,
                        "path": "{{ .path.path }}",
                    },
                    "destination": {"server": server, "namespace": "{{ .path.basename }}"},
                    "syncPolicy": {
                        "automated": {"prune": True, "selfHeal": True},
                        "syncOptions": sync_options,
                    },
                },
            },
        },
    )
    notes = _manager_note(tenantset, ns, ARGOCD_CONTROLLER, "Argo CD")
    return GitopsOutput(
        {"projects.yaml": projects, "applications.yaml": [admission, base, application_set]},
        notes,
    )


def project_name(spec_id: str, tenant: str) -> str:
    return names.fit(f"tenantctl-{spec_id}-{tenant}")


def applier_cluster_role(tenantset: TenantSet, rendering: Rendering) -> Manifest:
    """What applying tenantctl's output takes, and no more: the rendered kinds, plus ``bind``
    and ``escalate`` limited to the ClusterRoles tenantctl binds or writes."""
    rules: list[dict[str, Any]] = []
    by_group: dict[str, list[str]] = {}
    for kind in kinds.RENDERED_KINDS:
        by_group.setdefault(kind.group, []).append(kind.plural)
    for group, plurals in by_group.items():
        rules.append(
            {
                "apiGroups": [group],
                "resources": plurals,
                "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
            }
        )
    rendered_roles = sorted(
        {
            obj["metadata"]["name"]
            for objects in rendering.shared.values()
            for obj in objects
            if obj["kind"] == "ClusterRole"
        }
    )
    bound_roles = sorted(
        {*tenantset.platform.allowed_cluster_roles, "admin", "edit", "view", *rendered_roles}
    )
    rules.append(
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles"],
            "verbs": ["bind"],
            "resourceNames": bound_roles,
        }
    )
    rules.append(
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles"],
            "verbs": ["escalate"],
            "resourceNames": rendered_roles,
        }
    )
    return manifest(
        RBAC_API, "ClusterRole", metadata(APPLIER, delivery_labels(tenantset)), rules=rules
    )


def applier_binding(tenantset: TenantSet, name: str, subjects: list[dict[str, str]]) -> Manifest:
    return manifest(
        RBAC_API,
        "ClusterRoleBinding",
        metadata(name, delivery_labels(tenantset)),
        roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": APPLIER},
        subjects=subjects,
    )


def _git_ref(revision: str) -> dict[str, str]:
    if _COMMIT.match(revision):
        return {"commit": revision}
    if revision.startswith("refs/"):
        return {"name": revision}
    return {"branch": revision}


def flux(tenantset: TenantSet, rendering: Rendering, delivery: Delivery) -> GitopsOutput:
    spec_id = tenantset.spec_id
    ns = delivery.gitops_namespace
    owned = delivery_labels(tenantset)
    source_name = names.fit(f"tenantctl-{spec_id}")
    source = manifest(
        FLUX_SOURCE_API,
        "GitRepository",
        metadata(source_name, owned, namespace=ns),
        spec={"url": delivery.repo_url, "ref": _git_ref(delivery.revision), "interval": "5m"},
    )

    def kustomization(name: str, path: str, tenant: str | None, **extra: Any) -> Manifest:
        return manifest(
            FLUX_KUSTOMIZE_API,
            "Kustomization",
            metadata(name, delivery_labels(tenantset, tenant), namespace=ns),
            spec={
                "interval": "10m",
                "retryInterval": "1m",
                "timeout": "5m",
                "path": f"./{delivery.repo_path(path)}",
                # Prune stale objects of this unit; Namespaces opt out by annotation.
                "prune": True,
                "serviceAccountName": APPLIER,
                "sourceRef": {"kind": "GitRepository", "name": source_name},
                **extra,
            },
        )

    # The entry point: the platform team applies gitops/flux once, and from then on Flux keeps
    # this folder itself in sync from git. Removing a tenant from the spec removes its
    # Kustomization here, and deleting that Kustomization prunes the tenant's objects (never its
    # Namespaces). Deleting the entry point itself orphans what it synced (deletionPolicy), so
    # an accidental delete cannot cascade through every tenant. It runs as kustomize-controller,
    # not as the applier: it creates the applier's own RBAC, which the applier cannot grant itself.
    entry = manifest(
        FLUX_KUSTOMIZE_API,
        "Kustomization",
        metadata(names.fit(f"tenantctl-{spec_id}-gitops"), owned, namespace=ns),
        spec={
            "interval": "10m",
            "retryInterval": "1m",
            "timeout": "5m",
            "path": f"./{delivery.repo_path(output_folder('flux'))}",
            "prune": True,
            "deletionPolicy": "Orphan",
            "sourceRef": {"kind": "GitRepository", "name": source_name},
        },
    )
    # The policies before the base that binds them (emit/kustomize.py says why).
    admission_name = names.fit(f"tenantctl-{spec_id}-admission")
    base_name = names.fit(f"tenantctl-{spec_id}-base")
    units = [
        entry,
        kustomization(admission_name, kustomize.ADMISSION_BASE, None),
        kustomization(base_name, kustomize.SHARED_BASE, None, dependsOn=[{"name": admission_name}]),
    ]
    for tenant in dict.fromkeys(ns_files.tenant for ns_files in rendering.namespaces):
        units.append(
            kustomization(
                names.fit(f"tenantctl-{spec_id}-{tenant}"),
                f"overlays/{tenant}",
                tenant,
                dependsOn=[{"name": base_name}],
            )
        )
    applier_account = manifest("v1", "ServiceAccount", metadata(APPLIER, owned, namespace=ns))
    rbac_objects = [
        applier_account,
        applier_cluster_role(tenantset, rendering),
        applier_binding(
            tenantset,
            f"{APPLIER}-{ns}",
            [{"kind": "ServiceAccount", "name": APPLIER, "namespace": ns}],
        ),
    ]
    notes = _manager_note(tenantset, ns, APPLIER, "Flux (impersonating it)")
    return GitopsOutput(
        {"source.yaml": [source], "kustomizations.yaml": units, "applier-rbac.yaml": rbac_objects},
        notes,
    )


def gitops_output(tenantset: TenantSet, rendering: Rendering, delivery: Delivery) -> GitopsOutput:
    if delivery.tool == "argocd":
        return argocd(tenantset, rendering, delivery)
    return flux(tenantset, rendering, delivery)


def tree_files(spec_id: str, tool: Tool, output: GitopsOutput) -> dict[str, str]:
    """``gitops/<tool>/``: the objects by concern and a kustomization.yaml to apply them with."""
    header = generated_header(spec_id)
    folder = output_folder(tool)
    files = {
        f"{folder}/{name}": dump_documents(objects, header)
        for name, objects in output.files.items()
    }
    files[f"{folder}/kustomization.yaml"] = dump_documents(
        [{"apiVersion": KUSTOMIZE_API, "kind": "Kustomization", "resources": list(output.files)}],
        header,
    )
    return files


def namespace_conflict(tenantset: TenantSet, delivery: Delivery) -> str | None:
    """Why the GitOps namespace may not be used with this spec: it is a tenant's namespace."""
    gitops_namespace = delivery.gitops_namespace
    for tenant in tenantset.tenants:
        if any(namespace.name == gitops_namespace for namespace in tenant.namespaces):
            return (
                f"the GitOps namespace {gitops_namespace!r} is a namespace of tenant "
                f"{tenant.name!r}, whose admins would then control what syncs every tenant; "
                "pass another --gitops-namespace, or rename the tenant's namespace"
            )
    return None
