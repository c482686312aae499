"""Argo CD objects for a fleet: one Argo CD syncing every cluster's tree (emit/fleet.py).

AppProjects as for one cluster (emit/gitops.py), but their destinations name the cluster of
each namespace, so a tenant's project reaches its namespaces only on the clusters they are
placed on. Three ApplicationSets, the admission policies, the shared base and the namespace
overlays, take their clusters from a cluster generator: an Argo CD cluster takes part when it is
registered under its spec name and its cluster Secret is labelled
``tenantctl.dev/cluster=<name>``.
"""

from __future__ import annotations

from tenantctl import kinds, labels
from tenantctl.emit import gitops, kustomize
from tenantctl.render.bundle import Rendering
from tenantctl.render.meta import Manifest, manifest, metadata
from tenantctl.spec.model import TenantSet


def _unique(items: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for item in items:
        seen.setdefault(tuple(item.items()), item)
    return list(seen.values())


def argocd(
    tenantset: TenantSet,
    clusters: list[tuple[str, TenantSet, Rendering]],
    delivery: gitops.Delivery,
    clusters_folder: str,
) -> gitops.GitopsOutput:
    """AppProjects whose destinations name each cluster, and ApplicationSets over the clusters.

    ``clusters`` are (name, the cluster's spec, its rendering); each cluster's tree is at
    ``<clusters_folder>/<name>/`` in the output.
    """
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
    cluster_path = delivery.repo_path(f"{clusters_folder}/{{{{ .name }}}}")

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

    def shared_set(unit: str, folder: str) -> Manifest:
        """One Application per cluster syncing ``folder`` of that cluster's tree."""
        return application_set(
            f"tenantctl-{spec_id}-{unit}",
            [cluster_generator],
            {
                "metadata": {
                    "name": f"tenantctl-{spec_id}-{{{{ .name }}}}-{unit}",
                    "labels": owned,
                },
                "spec": {
                    "project": platform_project,
                    "source": {**source, "path": f"{cluster_path}/{folder}"},
                    "destination": {"name": "{{ .name }}"},
                    "syncPolicy": sync_policy,
                },
            },
        )

    # The policies first: each cluster's bindings need them (emit/kustomize.py says why).
    admission = shared_set("admission", kustomize.ADMISSION_BASE)
    base = shared_set("base", kustomize.SHARED_BASE)
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
        {"projects.yaml": projects, "applications.yaml": [admission, base, namespaces]},
        notes,
    )
