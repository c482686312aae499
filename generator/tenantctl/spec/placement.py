"""Which cluster of a fleet each tenant namespace runs on, and each cluster's own spec.

Data residency is usually met with one cluster per region. ``spec.clusters`` names the clusters
and the node labels that hold on each (region, zone, provider). A label key that some cluster
lists is a *placement key*; a namespace whose ``placement.nodeSelector`` names placement keys
runs only on a cluster carrying each of them with the same value, and other selector keys (a GPU
node label, say) do not take part. ``placement.cluster`` chooses explicitly, for a namespace that
several clusters satisfy (one without residency satisfies them all); the chosen cluster must
still satisfy its selector, so an explicit choice can never break residency.

Everything here is pure: ``check_placement`` returns findings for the spec checks,
``build_fleet`` the placement for the model, and ``for_cluster`` the TenantSet of one cluster
(its namespaces; every tenant, for the identities), which renders, applies and verifies exactly
as a single-cluster spec does. Every listed cluster must receive a namespace. A spec without
``spec.clusters`` is a single cluster: nothing changes.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Any

from tenantctl.spec import model
from tenantctl.spec.loading import Finding
from tenantctl.spec.paths import Path
from tenantctl.spec.resolving import ResolvedNamespace
from tenantctl.spec.semantics import _DNS_LABEL, _valid_label_key, _valid_label_value

CLUSTERS_PATH: Path = ("spec", "clusters")


@dataclass(frozen=True)
class _Placement:
    clusters: tuple[model.Cluster, ...]
    placement: dict[str, str]
    findings: list[Finding]


def check_placement(data: dict[str, Any], resolved: list[list[ResolvedNamespace]]) -> list[Finding]:
    """Problems with ``spec.clusters`` and with placing every namespace on one of them."""
    return _place(data, resolved).findings


def build_fleet(
    data: dict[str, Any], resolved: list[list[ResolvedNamespace]]
) -> model.Fleet | None:
    """The fleet of a spec that ``check_placement`` accepted; None for a single cluster."""
    if "clusters" not in data["spec"]:
        return None
    placed = _place(data, resolved)
    return model.Fleet(placed.clusters, placed.placement)


def for_cluster(tenantset: model.TenantSet, cluster: str) -> model.TenantSet:
    """The spec of one cluster: its namespaces, and no fleet.

    Every tenant stays, those without a namespace there with none: a cluster's admission
    policies must still know their groups and users as another tenant's, so that no tenant
    there can bind them into its namespaces (tenantctl/policies/rolebinding-scope.yaml).
    """
    assert tenantset.fleet is not None, "for_cluster needs a spec with spec.clusters"
    placement = tenantset.fleet.placement
    tenants = tuple(
        replace(
            tenant,
            namespaces=tuple(ns for ns in tenant.namespaces if placement[ns.name] == cluster),
        )
        for tenant in tenantset.tenants
    )
    return replace(tenantset, tenants=tenants, fleet=None)


def describe_labels(labels: dict[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items())) or "no labels"


def _place(data: dict[str, Any], resolved: list[list[ResolvedNamespace]]) -> _Placement:
    raw_clusters = data["spec"].get("clusters")
    clusters = tuple(
        model.Cluster(raw["name"], dict(raw.get("labels", {})), raw.get("context"))
        for raw in raw_clusters or ()
    )
    findings = _check_clusters(raw_clusters) if raw_clusters is not None else []
    placement: dict[str, str] = {}
    for t_index, tenant in enumerate(data["spec"]["tenants"]):
        for n_index, namespace in enumerate(tenant["namespaces"]):
            path: Path = ("spec", "tenants", t_index, "namespaces", n_index)
            settings = resolved[t_index][n_index]
            explicit = settings.settings["placement"].get("cluster")
            explicit_path = (
                (settings.layers.origin(("placement", "cluster")) or path) if explicit else path
            )
            if raw_clusters is None:
                if explicit is not None:
                    findings.append(
                        Finding(
                            explicit_path,
                            f"placement.cluster {explicit!r} names a cluster, but the spec "
                            "lists none",
                            "add the clusters under spec.clusters, or remove placement.cluster",
                        )
                    )
                continue
            selector = settings.settings["placement"]["nodeSelector"]
            if explicit is not None:
                chosen, finding = _explicit(namespace["name"], selector, explicit, clusters)
                finding_path = explicit_path
            else:
                chosen, finding = _by_residency(namespace["name"], selector, clusters)
                finding_path = path
            if finding is not None:
                findings.append(replace(finding, path=finding_path))
            if chosen is not None:
                placement[namespace["name"]] = chosen
    if not findings:
        findings = _empty_clusters(clusters, placement)
    return _Placement(clusters, placement, findings)


def _residency(selector: dict[str, str], clusters: tuple[model.Cluster, ...]) -> dict[str, str]:
    """The part of a nodeSelector that placement looks at: keys some cluster's labels name."""
    keys = {key for cluster in clusters for key in cluster.labels}
    return {key: value for key, value in selector.items() if key in keys}


def _fits(residency: dict[str, str], clusters: tuple[model.Cluster, ...]) -> list[model.Cluster]:
    return [c for c in clusters if all(c.labels.get(k) == v for k, v in residency.items())]


def _by_residency(
    name: str, selector: dict[str, str], clusters: tuple[model.Cluster, ...]
) -> tuple[str | None, Finding | None]:
    """The one cluster that satisfies the namespace, or a finding (its path set by the caller)."""
    residency = _residency(selector, clusters)
    fits = _fits(residency, clusters)
    if len(fits) == 1:
        return fits[0].name, None
    if not fits:
        return None, Finding(
            (),
            f"no cluster satisfies the residency of namespace {name!r} "
            f"({describe_labels(residency)})",
            "add a cluster with these labels to spec.clusters, or change placement.nodeSelector",
            at_value=False,
        )
    wording = "has no residency" if not residency else f"needs {describe_labels(residency)}"
    return None, Finding(
        (),
        f"namespace {name!r} {wording}, which clusters {', '.join(c.name for c in fits)} all "
        "satisfy",
        f"choose one with placement.cluster: {fits[0].name}",
        at_value=False,
    )


def _explicit(
    name: str, selector: dict[str, str], explicit: str, clusters: tuple[model.Cluster, ...]
) -> tuple[str | None, Finding | None]:
    """The cluster placement.cluster names, if it exists and satisfies the namespace."""
    chosen = next((c for c in clusters if c.name == explicit), None)
    if chosen is None:
        names = [cluster.name for cluster in clusters]
        close = difflib.get_close_matches(explicit, names, n=1)
        hint = f"did you mean {close[0]!r}?" if close else _one_of(names)
        return None, Finding((), f"no cluster is named {explicit!r}", hint)
    residency = _residency(selector, clusters)
    fits = _fits(residency, clusters)
    if chosen in fits:
        return explicit, None
    return None, Finding(
        (),
        f"namespace {name!r} needs {describe_labels(residency)}, which cluster {explicit!r} "
        f"({describe_labels(chosen.labels)}) does not have",
        _one_of([c.name for c in fits])
        if fits
        else "change placement.nodeSelector or the cluster's labels",
    )


def _empty_clusters(
    clusters: tuple[model.Cluster, ...], placement: dict[str, str]
) -> list[Finding]:
    """Clusters no namespace goes to: their shared objects would select an empty set of
    namespaces (a NetworkPolicy ``In`` without values), which Kubernetes rejects."""
    used = set(placement.values())
    return [
        Finding(
            (*CLUSTERS_PATH, index, "name"),
            f"no namespace is placed on cluster {cluster.name!r}",
            f"place one there (placement.cluster: {cluster.name}), or list the cluster once it "
            "has one",
        )
        for index, cluster in enumerate(clusters)
        if cluster.name not in used
    ]


def _one_of(names: list[str]) -> str:
    return f"use one of: {', '.join(names)}"


def _check_clusters(raw_clusters: list[dict[str, Any]]) -> list[Finding]:
    findings: list[Finding] = []
    seen_names: dict[str, int] = {}
    seen_contexts: dict[str, int] = {}
    for index, cluster in enumerate(raw_clusters):
        path: Path = (*CLUSTERS_PATH, index)
        name = cluster["name"]
        if len(name) > 63 or not _DNS_LABEL.match(name):
            findings.append(
                Finding(
                    (*path, "name"),
                    f"{name!r} is not a valid DNS-1123 label",
                    "use at most 63 lower-case letters, digits and '-', starting and ending "
                    "alphanumeric",
                )
            )
        if name in seen_names:
            findings.append(
                Finding(
                    (*path, "name"),
                    f"cluster {name!r} is listed twice (first at index {seen_names[name]})",
                    "give each cluster a distinct name",
                )
            )
        seen_names.setdefault(name, index)
        context = cluster.get("context")
        if context is not None:
            if context in seen_contexts:
                findings.append(
                    Finding(
                        (*path, "context"),
                        f"context {context!r} is mapped to two clusters (first at index "
                        f"{seen_contexts[context]})",
                        "map each kubeconfig context to one cluster",
                    )
                )
            seen_contexts.setdefault(context, index)
        for key, value in cluster.get("labels", {}).items():
            if not _valid_label_key(key):
                findings.append(
                    Finding(
                        (*path, "labels", key),
                        f"{key!r} is not a valid label key",
                        "use [prefix/]name, the name at most 63 letters, digits, '-', '_', '.'",
                        at_value=False,
                    )
                )
            if not _valid_label_value(value):
                findings.append(
                    Finding(
                        (*path, "labels", key),
                        f"{value!r} is not a valid label value",
                        "use at most 63 letters, digits, '-', '_', '.', alphanumeric at both ends",
                    )
                )
    return findings
