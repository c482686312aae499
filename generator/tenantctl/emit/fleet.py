"""The output of a fleet spec: one complete tree per cluster, and the GitOps objects that sync them.

    clusters/<name>/kustomization.yaml        that cluster: its shared base and its tenants
    clusters/<name>/bases/tenantctl/...       the shared objects that cluster needs
    clusters/<name>/overlays/<tenant>/<ns>/   only the namespaces placed on that cluster
    clusters/<name>/gitops/flux/              (--gitops flux) that cluster's Flux entry point
    gitops/argocd/                            (--gitops argocd) AppProjects and two
                                              ApplicationSets over every cluster
    clusters/<name>/  (--format helm)         one chart per cluster

Each cluster's tree is exactly what a single-cluster spec holding that cluster's namespaces would
produce (``placement.for_cluster`` then the ordinary renderers and writers), so everything that
holds for one cluster holds for each. Argo CD, which usually runs once for many clusters, gets one
ApplicationSet per unit with a cluster generator: an Argo CD cluster takes part when its Secret
is labelled ``tenantctl.dev/cluster=<name>`` and it is registered under that same name (the
AppProjects name their destinations by cluster name). Flux runs in each cluster and gets one
entry point per cluster. Pure: the spec in, file texts out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tenantctl import kinds, labels
from tenantctl.emit import gitops, helm, kustomize
from tenantctl.render.bundle import Rendering, render
from tenantctl.render.meta import Manifest, manifest, metadata
from tenantctl.spec.model import TenantSet
from tenantctl.spec.placement import for_cluster

CLUSTERS_FOLDER = "clusters"
# What generate replaces for a fleet: the per-cluster trees, and the single-cluster paths, which
# would otherwise linger from an earlier run and put every namespace on one cluster.
OWNED_PATHS = [*kustomize.OWNED_PATHS, CLUSTERS_FOLDER]
HELM_OWNED_PATHS = [*helm.OWNED_PATHS, CLUSTERS_FOLDER]


def cluster_folder(name: str) -> str:
    return f"{CLUSTERS_FOLDER}/{name}"


@dataclass(frozen=True)
class FleetOutput:
    files: dict[str, str]
    owned: list[str]
    notes: list[str]
    # Folders holding one Helm chart each (--format helm), to lint and validate one by one.
    charts: list[str]


def placement_summary(tenantset: TenantSet) -> str:
    """What validate adds for a fleet (": 3 on eu, 1 on us"); "" for a single cluster."""
    if tenantset.fleet is None:
        return ""
    placed = list(tenantset.fleet.placement.values())
    return ": " + ", ".join(f"{placed.count(name)} on {name}" for name in tenantset.fleet.names())


def _clusters(tenantset: TenantSet) -> list[tuple[str, TenantSet, Rendering]]:
    assert tenantset.fleet is not None
    result = []
    for name in tenantset.fleet.names():
        cluster_spec = for_cluster(tenantset, name)
        result.append((name, cluster_spec, render(cluster_spec)))
    return result


def _under(folder: str, files: dict[str, str]) -> dict[str, str]:
    return {f"{folder}/{path}": text for path, text in files.items()}


def fleet_output(
    tenantset: TenantSet, output_format: str, delivery: gitops.Delivery | None
) -> FleetOutput:
    """Every file of a fleet's output, by path in the output folder."""
    clusters = _clusters(tenantset)
    files: dict[str, str] = {}
    notes: list[str] = []
    if output_format == "helm":
        for name, cluster_spec, _ in clusters:
            files.update(_under(cluster_folder(name), helm.chart_files(cluster_spec)))
        return FleetOutput(
            files, list(HELM_OWNED_PATHS), notes, [cluster_folder(n) for n, _, _ in clusters]
        )
    owned = list(OWNED_PATHS)
    for name, _, rendering in clusters:
        files.update(_under(cluster_folder(name), kustomize.tree_files(rendering)))
    if delivery is not None and delivery.tool == "flux":
        for name, cluster_spec, rendering in clusters:
            cluster_delivery = replace(
                delivery, path_prefix=delivery.repo_path(cluster_folder(name))
            )
            result = gitops.flux(cluster_spec, rendering, cluster_delivery)
            files.update(
                _under(cluster_folder(name), gitops.tree_files(tenantset.spec_id, "flux", result))
            )
            notes.extend(note for note in result.notes if note not in notes)
        # A single-cluster gitops/flux/ of an earlier run would sync the wrong tree.
        owned.append(gitops.output_folder("flux"))
    elif delivery is not None:
        result = argocd(tenantset, clusters, delivery)
        files.update(gitops.tree_files(tenantset.spec_id, "argocd", result))
        owned.append(gitops.output_folder("argocd"))
        notes.extend(result.notes)
    return FleetOutput(files, owned, notes, [])


def _unique(items: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for item in items:
        seen.setdefault(tuple(item.items()), item)
    return list(seen.values())


def argocd(
    tenantset: TenantSet,
    clusters: list[tuple[str, TenantSet, Rendering]],
    delivery: gitops.Delivery,
) -> gitops.GitopsOutput:
    """AppProjects whose destinations name each cluster, and ApplicationSets over the clusters."""
    spec_id = tenantset.spec_id
    ns = delivery.gitops_namespace
    owned = gitops.delivery_labels(tenantset)
    platform_project = f"tenantctl-{spec_id}-platform"

    shared_destinations: list[dict[str, str]] = []
    shared_cluster_objects: list[dict[str, str]] = []
    shared_namespaced: list[Manifest] = []
    tenant_namespaces: dict[str, list[tuple[str, str]]] = {}
    tenant_objects: dict[str, list[Manifest]] = {}
    for name, _, rendering in clusters:
        shared = [obj for objects in rendering.shared.values() for obj in objects]
        for obj in shared:
            if "namespace" in obj["metadata"]:
                shared_namespaced.append(obj)
                shared_destinations.append(
                    {"name": name, "namespace": obj["metadata"]["namespace"]}
                )
            else:
                shared_cluster_objects.append(
                    {
                        "group": obj["apiVersion"].rpartition("/")[0],
                        "kind": obj["kind"],
                        "name": obj["metadata"]["name"],
                    }
                )
        for ns_files in rendering.namespaces:
            tenant_namespaces.setdefault(ns_files.tenant, []).append((name, ns_files.namespace))
            tenant_objects.setdefault(ns_files.tenant, []).extend(
                obj for docs in ns_files.files.values() for obj in docs
            )

    def group_kinds(objects: list[Manifest]) -> list[dict[str, str]]:
        pairs = sorted(
            {
                (obj["apiVersion"].rpartition("/")[0], obj["kind"])
                for obj in objects
                if "namespace" in obj["metadata"]
            }
        )
        return [{"group": group, "kind": kind} for group, kind in pairs]

    projects = [
        manifest(
            gitops.ARGOCD_API,
            "AppProject",
            metadata(platform_project, owned, namespace=ns),
            spec={
                "description": f"tenantctl {spec_id}: cluster-wide objects and the gateway's, "
                "on every cluster of the fleet",
                "sourceRepos": [delivery.repo_url],
                "destinations": _unique(shared_destinations),
                "clusterResourceWhitelist": _unique(shared_cluster_objects),
                "namespaceResourceWhitelist": group_kinds(shared_namespaced),
            },
        )
    ]
    for tenant, placed in tenant_namespaces.items():
        projects.append(
            manifest(
                gitops.ARGOCD_API,
                "AppProject",
                metadata(
                    gitops.project_name(spec_id, tenant),
                    gitops.delivery_labels(tenantset, tenant),
                    namespace=ns,
                ),
                spec={
                    "description": f"tenantctl {spec_id}: tenant {tenant}, its namespaces only, "
                    "each on its own cluster",
                    "sourceRepos": [delivery.repo_url],
                    "destinations": [
                        {"name": cluster, "namespace": namespace} for cluster, namespace in placed
                    ],
                    "clusterResourceWhitelist": _unique(
                        [
                            {"group": "", "kind": kinds.NAMESPACE.kind, "name": namespace}
                            for _, namespace in placed
                        ]
                    ),
                    "namespaceResourceWhitelist": group_kinds(tenant_objects[tenant]),
                },
            )
        )

    cluster_generator = {
        "clusters": {
            "selector": {
                "matchExpressions": [
                    {
                        "key": labels.CLUSTER,
                        "operator": "In",
                        "values": [name for name, _, _ in clusters],
                    }
                ]
            }
        }
    }
    sync_policy = {
        "automated": {"prune": True, "selfHeal": True},
        "syncOptions": ["ServerSideApply=true", "CreateNamespace=false", "PruneLast=true"],
    }
    source = {"repoURL": delivery.repo_url, "targetRevision": delivery.revision}
    cluster_path = delivery.repo_path(f"{CLUSTERS_FOLDER}/{{{{ .name }}}}")

    def application_set(name: str, generators: list[object], template: Manifest) -> Manifest:
        return manifest(
            gitops.ARGOCD_API,
            "ApplicationSet",
            metadata(name, owned, namespace=ns),
            spec={
                "goTemplate": True,
                "goTemplateOptions": ["missingkey=error"],
                "generators": generators,
                # Removing a cluster or a folder deletes the Application but leaves its objects
                # in the cluster: deletion is `tenantctl apply --prune`'s job.
                "syncPolicy": {"preserveResourcesOnDeletion": True},
                "template": template,
            },
        )

    base = application_set(
        f"tenantctl-{spec_id}-base",
        [cluster_generator],
        {
            "metadata": {"name": f"tenantctl-{spec_id}-{{{{ .name }}}}-base", "labels": owned},
            "spec": {
                "project": platform_project,
                "source": {**source, "path": f"{cluster_path}/{kustomize.SHARED_BASE}"},
                "destination": {"name": "{{ .name }}"},
                "syncPolicy": sync_policy,
            },
        },
    )
    # Segments of .path: the prefix, "clusters", the cluster, "overlays", the tenant, the namespace.
    tenant_segment = len([p for p in delivery.path_prefix.split("/") if p]) + 3
    tenant_expression = f"{{{{ index .path.segments {tenant_segment} }}}}"
    namespaces = application_set(
        f"tenantctl-{spec_id}-namespaces",
        [
            {
                "matrix": {
                    "generators": [
                        cluster_generator,
                        {
                            "git": {
                                "repoURL": delivery.repo_url,
                                "revision": delivery.revision,
                                "directories": [{"path": f"{cluster_path}/overlays/*/*"}],
                            }
                        },
                    ]
                }
            }
        ],
        {
            "metadata": {
                "name": f"tenantctl-{spec_id}-{{{{ .name }}}}-{{{{ .path.basename }}}}",
                "labels": {**owned, labels.TENANT: tenant_expression},
            },
            "spec": {
                "project": f"tenantctl-{spec_id}-{tenant_expression}",
                "source": {**source, "path": "{{ .path.path }}"},
                "destination": {"name": "{{ .name }}", "namespace": "{{ .path.basename }}"},
                "syncPolicy": sync_policy,
            },
        },
    )
    names = [name for name, _, _ in clusters]
    notes = [
        f"register each cluster ({', '.join(names)}) in Argo CD under its spec name, its cluster "
        f"Secret labelled {labels.CLUSTER}=<name> (argocd cluster add CONTEXT --name {names[0]} "
        f"--label {labels.CLUSTER}={names[0]})"
    ]
    notes += gitops._manager_note(tenantset, ns, gitops.ARGOCD_CONTROLLER, "Argo CD")
    return gitops.GitopsOutput(
        {"projects.yaml": projects, "applications.yaml": [base, namespaces]}, notes
    )
