"""Placing namespaces on the clusters of a fleet (spec/placement.py).

Aspects: residency picks the one cluster whose labels match, ignoring selector keys no cluster
names; an explicit placement.cluster settles a namespace that several clusters satisfy, but never
overrides residency; every way placement can fail is a located problem with a fix; the clusters'
own names, labels and contexts are checked; a spec without clusters has no fleet.
"""

from __future__ import annotations

from collections.abc import Callable

from tenantctl.spec.model import TenantSet
from tenantctl.spec.placement import for_cluster

from .fleet_text import FLEET


def test_each_namespace_goes_to_the_cluster_its_residency_names(
    tenantset_of: Callable[[str], TenantSet],
) -> None:
    fleet = tenantset_of(FLEET).fleet
    assert fleet is not None
    assert fleet.placement == {"alpha-eu": "eu", "alpha-us": "us", "beta-tools": "us"}
    assert fleet.names() == ["eu", "us"]


def test_a_cluster_spec_holds_its_namespaces_and_every_tenants_identities(
    tenantset_of: Callable[[str], TenantSet],
) -> None:
    tenantset = tenantset_of(FLEET)
    eu = for_cluster(tenantset, "eu")
    assert [ns.name for ns in eu.namespaces()] == ["alpha-eu"]
    # beta has no namespace on eu, but eu's admission policies must still know its identities.
    assert [(t.name, len(t.namespaces)) for t in eu.tenants] == [("alpha", 1), ("beta", 0)]
    assert eu.fleet is None
    us = for_cluster(tenantset, "us")
    assert [ns.name for ns in us.namespaces()] == ["alpha-us", "beta-tools"]


def test_a_spec_without_clusters_has_no_fleet(tenantset_of: Callable[[str], TenantSet]) -> None:
    start, end = FLEET.index("  clusters:"), FLEET.index("  tenants:")
    text = (FLEET[:start] + FLEET[end:]).replace("          placement: {cluster: us}\n", "")
    assert tenantset_of(text).fleet is None


def test_a_residency_no_cluster_satisfies_is_located_at_the_namespace(
    problems_in: Callable[[str], list[str]],
) -> None:
    text = FLEET.replace("us-east-1}\n    - name: beta", "ap-south-1}\n    - name: beta")
    assert problems_in(text) == [
        "23:11: spec.tenants[0].namespaces[1]: no cluster satisfies the residency of namespace "
        "'alpha-us' (topology.kubernetes.io/region=ap-south-1) (add a cluster with these labels "
        "to spec.clusters, or change placement.nodeSelector)"
    ]


def test_a_namespace_without_residency_must_choose_among_the_clusters(
    problems_in: Callable[[str], list[str]],
) -> None:
    text = FLEET.replace("          placement: {cluster: us}\n", "")
    assert problems_in(text) == [
        "31:11: spec.tenants[1].namespaces[0]: namespace 'beta-tools' has no residency, which "
        "clusters eu, us all satisfy (choose one with placement.cluster: eu)"
    ]


def test_two_clusters_with_the_same_region_are_ambiguous_for_it(
    problems_in: Callable[[str], list[str]],
) -> None:
    text = FLEET.replace("us-east-1}\n      context", "eu-west-1}\n      context")
    assert problems_in(text)[0] == (
        "20:11: spec.tenants[0].namespaces[0]: namespace 'alpha-eu' needs "
        "topology.kubernetes.io/region=eu-west-1, which clusters eu, us all satisfy "
        "(choose one with placement.cluster: eu)"
    )


def test_an_unknown_cluster_name_is_reported_with_a_suggestion(
    problems_in: Callable[[str], list[str]],
) -> None:
    text = FLEET.replace("placement: {cluster: us}", "placement: {cluster: usa}")
    assert problems_in(text) == [
        "32:32: spec.tenants[1].namespaces[0].placement.cluster: no cluster is named 'usa' "
        "(did you mean 'us'?)"
    ]


def test_an_explicit_cluster_never_overrides_residency(
    problems_in: Callable[[str], list[str]],
) -> None:
    text = FLEET.replace(
        "nodeSelector: {topology.kubernetes.io/region: us-east-1}",
        "nodeSelector: {topology.kubernetes.io/region: us-east-1}\n            cluster: eu",
    )
    assert problems_in(text) == [
        "26:22: spec.tenants[0].namespaces[1].placement.cluster: namespace 'alpha-us' needs "
        "topology.kubernetes.io/region=us-east-1, which cluster 'eu' "
        "(topology.kubernetes.io/region=eu-west-1) does not have (use one of: us)"
    ]


def test_a_cluster_chosen_in_tenant_defaults_is_reported_where_it_is_written(
    problems_in: Callable[[str], list[str]],
) -> None:
    text = FLEET.replace(
        "        admin: {groups: [beta-admins]}\n",
        "        admin: {groups: [beta-admins]}\n"
        "      defaults:\n"
        "        placement: {cluster: mars}\n",
    ).replace("          placement: {cluster: us}\n", "")
    assert problems_in(text) == [
        "31:30: spec.tenants[1].defaults.placement.cluster: no cluster is named 'mars' "
        "(use one of: eu, us)"
    ]


def test_placement_cluster_without_clusters_is_reported(
    problems_in: Callable[[str], list[str]],
) -> None:
    start, end = FLEET.index("  clusters:"), FLEET.index("  tenants:")
    text = FLEET[:start] + FLEET[end:]
    assert problems_in(text) == [
        "25:32: spec.tenants[1].namespaces[0].placement.cluster: placement.cluster 'us' names a "
        "cluster, but the spec lists none (add the clusters under spec.clusters, or remove "
        "placement.cluster)"
    ]


def test_cluster_names_labels_and_contexts_are_checked(
    problems_in: Callable[[str], list[str]],
) -> None:
    text = (
        FLEET.replace("- name: us\n", "- name: eu\n")
        .replace("context: ctx-us", "context: ctx-eu")
        .replace("region: us-east-1}\n      context", "region: us_east_1!}\n      context")
    )
    problems = problems_in(text)
    assert problems[:3] == [
        "11:13: spec.clusters[1].name: cluster 'eu' is listed twice (first at index 0) "
        "(give each cluster a distinct name)",
        "12:47: spec.clusters[1].labels[\"topology.kubernetes.io/region\"]: 'us_east_1!' is not "
        "a valid label value (use at most 63 letters, digits, '-', '_', '.', alphanumeric at "
        "both ends)",
        "13:16: spec.clusters[1].context: context 'ctx-eu' is mapped to two clusters (first at "
        "index 0) (map each kubeconfig context to one cluster)",
    ]


def test_an_unknown_field_in_a_cluster_gets_a_suggestion(
    problems_in: Callable[[str], list[str]],
) -> None:
    text = FLEET.replace("context: ctx-us", "kontext: ctx-us")
    assert problems_in(text) == [
        "13:7: spec.clusters[1].kontext: unknown field 'kontext' (did you mean 'context'?)"
    ]


def test_a_cluster_without_namespaces_is_reported(
    problems_in: Callable[[str], list[str]],
) -> None:
    text = FLEET.replace(
        "      context: ctx-us\n",
        "      context: ctx-us\n"
        "    - name: ap\n"
        "      labels: {topology.kubernetes.io/region: ap-south-1}\n",
    )
    assert problems_in(text) == [
        "14:13: spec.clusters[2].name: no namespace is placed on cluster 'ap' (place one there "
        "(placement.cluster: ap), or list the cluster once it has one)"
    ]
