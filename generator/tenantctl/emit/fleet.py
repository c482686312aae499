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
holds for one cluster holds for each. Argo CD, which usually runs once for many clusters, gets
ApplicationSets with a cluster generator (emit/fleet_argocd.py); Flux runs in each cluster and
gets one entry point per cluster. Pure: the spec in, file texts out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tenantctl.emit import fleet_argocd, gitops, helm, kustomize
from tenantctl.render.bundle import Rendering, render
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
        result = fleet_argocd.argocd(tenantset, clusters, delivery, CLUSTERS_FOLDER)
        files.update(gitops.tree_files(tenantset.spec_id, "argocd", result))
        owned.append(gitops.output_folder("argocd"))
        notes.extend(result.notes)
    return FleetOutput(files, owned, notes, [])
