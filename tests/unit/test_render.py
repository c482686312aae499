"""What the renderers promise about the objects, checked on the rendered example.

Aspects: ownership labels on everything and no ownerReferences; namespaces selected only by
their immutable name label, namespace and pod selectors ANDed in one peer; default deny plus DNS
over UDP and TCP; tenant access through RoleBindings only, never to cluster-admin; the gateway's
write access only inside tenant namespaces; quota keys all covered by LimitRange defaults; Istio
STRICT wherever agents are; the OpenShell allowlist in both of its forms; admission matches with
the server's defaults spelled out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tenantctl import labels
from tenantctl.render import rbac as render_rbac
from tenantctl.render.bundle import Rendering, render
from tenantctl.spec.model import TenantSet
from tenantctl.spec.reading import read_tenantset

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tenantset() -> TenantSet:
    return read_tenantset(REPO / "examples" / "tenants.yaml")


@pytest.fixture(scope="module")
def rendering(tenantset: TenantSet) -> Rendering:
    return render(tenantset)


def of_kind(rendering: Rendering, kind: str) -> list[dict[str, Any]]:
    return [obj for obj in rendering.all_manifests() if obj["kind"] == kind]


def namespace_selectors(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "namespaceSelector":
                yield value
            else:
                yield from namespace_selectors(value)
    elif isinstance(node, list):
        for item in node:
            yield from namespace_selectors(item)


def test_every_object_carries_the_ownership_labels_and_no_owner_references(
    rendering: Rendering,
) -> None:
    for obj in rendering.all_manifests():
        meta = obj["metadata"]
        assert meta["labels"][labels.MANAGED_BY] == "tenantctl", meta["name"]
        if (obj["kind"], meta["name"]) not in SHARED:
            assert meta["labels"][labels.SPEC_ID] == "example", meta["name"]
        assert "ownerReferences" not in meta


# What every spec renders alike: the gateway and sandbox ClusterRoles, and the policy that keeps
# the API server's parameter watch alive (tenantctl.render.policies.INFORMER_ANCHOR).
SHARED = {
    ("ClusterRole", "tenantctl-gateway-read"),
    ("ClusterRole", "tenantctl-gateway-write"),
    ("ClusterRole", "tenantctl-sandbox-user"),
    ("ClusterRole", "tenantctl-sandbox-viewer"),
    ("ValidatingAdmissionPolicy", "tenantctl-parameter-informer"),
    ("ValidatingAdmissionPolicyBinding", "tenantctl-parameter-informer"),
}


def _platform_keys(objects: list[dict[str, Any]], namespaces: set[str]) -> set[tuple[str, ...]]:
    """Objects outside the spec's tenant namespaces (cluster-wide or in the gateway's)."""
    return {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
        for o in objects
        if o["kind"] != "Namespace" and o["metadata"].get("namespace") not in namespaces
    }


def test_two_specs_share_only_the_objects_they_render_alike(tenantset: TenantSet) -> None:
    # Several TenantSets on one cluster apply the same ClusterRoles instead of taking them from
    # each other; no spec prunes them, and Argo CD and Flux never do. Every other object outside
    # the tenant namespaces carries the spec id in its name.
    example = render(tenantset).all_manifests()
    other = render(dataclasses.replace(tenantset, spec_id="second")).all_manifests()
    unowned = [o for o in example if labels.SPEC_ID not in o["metadata"]["labels"]]
    assert sorted((o["kind"], o["metadata"]["name"]) for o in unowned) == sorted(SHARED)
    for obj in unowned:
        assert obj in other
        assert obj["metadata"]["annotations"] == {
            labels.ARGOCD_SYNC_OPTIONS: "Prune=false,Delete=false",
            labels.FLUX_RECONCILE: "disabled",
        }
    tenant_namespaces = {ns.name for ns in tenantset.namespaces()}
    shared = _platform_keys(example, tenant_namespaces) & _platform_keys(other, tenant_namespaces)
    # A tenant gateway's account (and its review binding, named by it) is named in the spec;
    # two TenantSets may not name the same one (spec/together.py refuses it).
    accounts = {t.gateway_service_account for t in tenantset.tenants if t.gateway_service_account}
    shared = {
        key
        for key in shared
        if key[2] not in accounts
        and key[2].removeprefix(render_rbac.TENANT_GATEWAY_REVIEWS_PREFIX) not in accounts
    }
    assert shared == {(kind, "", name) for kind, name in SHARED}


def test_tenant_namespaces_record_tenant_security_level_residency_and_audit_owner(
    rendering: Rendering,
) -> None:
    namespace = next(
        ns for ns in of_kind(rendering, "Namespace") if ns["metadata"]["name"] == "alpha-dev"
    )
    meta = namespace["metadata"]
    assert meta["labels"][labels.TENANT] == "alpha"
    assert meta["labels"][labels.TENANT_NAMESPACE] == "true"
    assert meta["labels"][labels.ENVIRONMENT] == "dev"
    assert meta["labels"][labels.POD_SECURITY_ENFORCE] == "privileged"
    assert meta["labels"][labels.POD_SECURITY_AUDIT] == "restricted"
    assert meta["annotations"][labels.NODE_SELECTOR] == "topology.kubernetes.io/region=eu-west-1"
    assert meta["annotations"][labels.OWNER] == "alice@example.com"
    assert meta["annotations"][labels.COST_CENTER] == "CC-1042"
    assert meta["annotations"][labels.ARGOCD_SYNC_OPTIONS] == "Prune=false,Delete=false"
    assert meta["annotations"][labels.FLUX_RECONCILE] == "disabled"


def test_namespaces_are_selected_only_by_their_immutable_name(rendering: Rendering) -> None:
    selectors = list(namespace_selectors(of_kind(rendering, "NetworkPolicy")))
    assert selectors
    for selector in selectors:
        keys = set(selector.get("matchLabels", {})) | {
            expression["key"] for expression in selector.get("matchExpressions", [])
        }
        assert keys == {labels.NAMESPACE_NAME}, selector


def test_every_tenant_namespace_denies_by_default_and_reaches_dns_over_udp_and_tcp(
    rendering: Rendering, tenantset: TenantSet
) -> None:
    policies = {
        (p["metadata"]["namespace"], p["metadata"]["name"]): p
        for p in of_kind(rendering, "NetworkPolicy")
    }
    for namespace in tenantset.namespaces():
        deny = policies[(namespace.name, "default-deny")]["spec"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        dns = policies[(namespace.name, "allow-dns")]["spec"]["egress"]
        assert dns == [
            {
                "to": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {labels.NAMESPACE_NAME: "kube-system"}
                        },
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }
        ]


def test_the_gateway_is_reachable_only_on_its_pods_and_ports(rendering: Rendering) -> None:
    policy = next(
        p for p in of_kind(rendering, "NetworkPolicy") if p["metadata"]["name"] == "allow-gateway"
    )
    (rule,) = policy["spec"]["egress"]
    (peer,) = rule["to"]  # one peer holding both selectors: namespace AND pods
    assert peer == {
        "namespaceSelector": {"matchLabels": {labels.NAMESPACE_NAME: "tenantctl-system"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "sandbox-gateway"}},
    }
    # HTTP, and OpenShell's gRPC API (platform.gateway.grpcPort)
    assert rule["ports"] == [{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": 50051}]


def test_same_tenant_traffic_reaches_only_sibling_namespaces(rendering: Rendering) -> None:
    policies = [
        p
        for p in of_kind(rendering, "NetworkPolicy")
        if p["metadata"]["name"] == "allow-same-tenant"
    ]
    assert {p["metadata"]["namespace"] for p in policies} == {"alpha-dev", "alpha-prod"}
    dev = next(p for p in policies if p["metadata"]["namespace"] == "alpha-dev")
    assert dev["spec"]["ingress"] == [
        {"from": [{"namespaceSelector": {"matchLabels": {labels.NAMESPACE_NAME: "alpha-prod"}}}]}
    ]


def test_the_gateway_namespace_admits_exactly_the_tenant_namespaces(rendering: Rendering) -> None:
    (policy,) = rendering.shared["gateway-network.yaml"]
    (rule,) = policy["spec"]["ingress"]
    expression = rule["from"][0]["namespaceSelector"]["matchExpressions"][0]
    assert expression["values"] == ["alpha-dev", "alpha-prod", "beta-dev"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": 50051}]


def test_tenants_get_role_bindings_only_and_never_cluster_admin(rendering: Rendering) -> None:
    cluster_bindings = of_kind(rendering, "ClusterRoleBinding")
    for binding in cluster_bindings:
        assert all(s["kind"] == "ServiceAccount" for s in binding["subjects"])
    for binding in of_kind(rendering, "RoleBinding"):
        assert binding["roleRef"]["name"] != "cluster-admin"
    alpha_dev = {
        b["metadata"]["name"]: (b["roleRef"]["name"], [s["name"] for s in b["subjects"]])
        for b in of_kind(rendering, "RoleBinding")
        if b["metadata"]["namespace"] == "alpha-dev"
    }
    assert alpha_dev == {
        "tenantctl-admin": ("admin", ["alpha-admins"]),
        "tenantctl-admin-sandboxes": ("tenantctl-sandbox-user", ["alpha-admins"]),
        "tenantctl-view": ("view", ["alpha-viewers"]),
        "tenantctl-view-sandboxes": ("tenantctl-sandbox-viewer", ["alpha-viewers"]),
        "tenantctl-gateway": (
            "tenantctl-gateway-write",
            ["sandbox-gateway", "sandbox-gateway-alpha"],  # alpha's own gateway (tenants[].gateway)
        ),
    }


def test_the_gateway_reads_cluster_wide_but_writes_only_through_namespace_bindings(
    rendering: Rendering, tenantset: TenantSet
) -> None:
    roles = {r["metadata"]["name"]: r for r in of_kind(rendering, "ClusterRole")}
    read_verbs = {
        verb for rule in roles["tenantctl-gateway-read"]["rules"] for verb in rule["verbs"]
    }
    assert read_verbs == {"get", "list", "watch", "create"}
    create_rules = [r for r in roles["tenantctl-gateway-read"]["rules"] if "create" in r["verbs"]]
    assert {res for r in create_rules for res in r["resources"]} == {
        "tokenreviews",
        "subjectaccessreviews",
    }
    bindings = {b["metadata"]["name"]: b for b in of_kind(rendering, "ClusterRoleBinding")}
    assert {name: b["roleRef"]["name"] for name, b in bindings.items()} == {
        "tenantctl-gateway-read-example": "tenantctl-gateway-read",
        # alpha's own gateway may only review tokens and access cluster-wide
        "tenantctl-gateway-reviews-sandbox-gateway-alpha": "system:auth-delegator",
    }
    write_bindings = [
        b
        for b in of_kind(rendering, "RoleBinding")
        if b["roleRef"]["name"] == "tenantctl-gateway-write"
    ]
    assert sorted(b["metadata"]["namespace"] for b in write_bindings) == sorted(
        ns.name for ns in tenantset.namespaces()
    )
    writers = {
        b["metadata"]["namespace"]: [s["name"] for s in b["subjects"]] for b in write_bindings
    }
    assert writers == {
        "alpha-dev": ["sandbox-gateway", "sandbox-gateway-alpha"],
        "alpha-prod": ["sandbox-gateway", "sandbox-gateway-alpha"],
        "beta-dev": ["sandbox-gateway"],
    }


def test_every_compute_quota_key_has_a_limit_range_default(rendering: Rendering) -> None:
    quotas = {
        q["metadata"]["namespace"]: q["spec"]["hard"] for q in of_kind(rendering, "ResourceQuota")
    }
    ranges = {
        r["metadata"]["namespace"]: r["spec"]["limits"][0] for r in of_kind(rendering, "LimitRange")
    }
    assert set(quotas) == set(ranges) == {"alpha-dev", "alpha-prod", "beta-dev"}
    for namespace, hard in quotas.items():
        for key in hard:
            kind, _, resource = key.partition(".")
            if kind == "limits":
                assert resource in ranges[namespace]["default"], (namespace, key)
            if kind == "requests" and resource != "storage":
                assert resource in ranges[namespace]["defaultRequest"], (namespace, key)
        assert hard["services.nodeports"] == "0"
        assert hard["services.loadbalancers"] == "0"
    assert quotas["alpha-dev"]["requests.cpu"] == "3"  # alpha's budget of 6, split in two


def test_istio_namespaces_run_strict_mtls_with_an_allow_nothing_baseline(
    rendering: Rendering,
) -> None:
    peer = {p["metadata"]["namespace"]: p["spec"] for p in of_kind(rendering, "PeerAuthentication")}
    assert peer == {"alpha-prod": {"mtls": {"mode": "STRICT"}}}
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(rendering, "AuthorizationPolicy")}
    assert policies["allow-nothing"] == {}
    agent = policies["allow-research-agent"]
    assert agent["action"] == "ALLOW"
    assert agent["rules"][0]["from"] == [
        {"source": {"principals": ["cluster.local/ns/alpha-prod/sa/web-frontend"]}},
        {"source": {"namespaces": ["alpha-dev"]}},
    ]


def test_the_openshell_label_allowlist_marks_each_tenant_namespace(tmp_path: Path) -> None:
    spec = yaml.safe_load((REPO / "examples" / "tenants.yaml").read_text())
    spec["spec"]["platform"]["gateway"] = {
        "flavor": "openshell",
        "namespace": "openshell",
        "serviceAccount": "openshell",
        "allowlist": {"source": "label", "label": "openshell.ai/workspace"},
    }
    path = tmp_path / "openshell.yaml"
    path.write_text(yaml.safe_dump(spec))
    rendering = render(read_tenantset(path))
    for namespace in of_kind(rendering, "Namespace"):
        assert namespace["metadata"]["labels"]["openshell.ai/workspace"] == "true"
    roles = {r["metadata"]["name"]: r for r in of_kind(rendering, "ClusterRole")}
    secret_rules = [
        r for r in roles["tenantctl-gateway-write"]["rules"] if r["resources"] == ["secrets"]
    ]
    assert secret_rules == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "verbs": ["get", "patch"],
            "resourceNames": ["openshell-client-tls"],
        },
    ]


def test_the_openshell_file_allowlist_lists_every_tenant_namespace() -> None:
    rendering = render(read_tenantset(REPO / "examples" / "openshell-file-allowlist.yaml"))
    (config_map,) = rendering.shared["openshell-allowlist.yaml"]
    assert config_map["metadata"]["namespace"] == "openshell"
    assert config_map["data"] == {"workspaces.json": '["search-dev", "search-prod"]'}
    for namespace in of_kind(rendering, "Namespace"):
        assert "openshell.ai/workspace" not in namespace["metadata"]["labels"]


def test_admission_matches_spell_out_the_server_defaults_so_two_appliers_never_conflict(
    rendering: Rendering,
) -> None:
    # Server-side apply compares atomic fields whole, defaults included: Flux and `tenantctl
    # apply` conflicted on every policy while both applied the same object (test_flux.py).
    matches = [
        p["spec"]["matchConstraints"] for p in of_kind(rendering, "ValidatingAdmissionPolicy")
    ]
    matches += [
        b["spec"]["matchResources"]
        for b in of_kind(rendering, "ValidatingAdmissionPolicyBinding")
        if "matchResources" in b["spec"]
    ]
    assert matches
    for match in matches:
        assert match["matchPolicy"] == "Equivalent"
        assert "namespaceSelector" in match
        assert "objectSelector" in match
        assert all("scope" in rule for rule in match.get("resourceRules", []))
