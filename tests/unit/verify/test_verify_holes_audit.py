"""The hole catalogue, continued: what an auditor's ``verify --manifests DIR`` used to let through.

Same rules as test_verify_holes.py: each test breaks exactly one thing in the hand-written base
set-up (manifests/base.yaml, judged without a spec unless it says otherwise) and asserts which
checks fail, for which tenant or namespace, and what the reason says.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from verifycases import EXAMPLE, base_objects, failures, find, one, run

from tenantctl.cli import main
from tenantctl.render.bundle import render
from tenantctl.spec.reading import read_tenantset
from tenantctl.verify import clusternet, expectations, manifests, network
from tenantctl.verify.results import Verification
from tenantctl.verify.static import verify_inventory

Manifest = dict[str, Any]


def example_objects() -> list[Manifest]:
    return list(render(read_tenantset(EXAMPLE)).all_manifests())


def run_example(objects: list[Manifest], **options: Any) -> Verification:
    """Verify ``objects`` against the example spec they were rendered from."""
    tenantset = read_tenantset(EXAMPLE)
    inventory = manifests.Inventory.of("test", objects)
    return verify_inventory(
        inventory, expectations.from_tenantset(tenantset), tenantset=tenantset, **options
    )


def role_binding(namespace: str, name: str, role: str, *subjects: Manifest) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": list(subjects),
    }


def group(name: str) -> Manifest:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


def service_account(namespace: str, name: str) -> Manifest:
    return {"kind": "ServiceAccount", "namespace": namespace, "name": name}


# ---- RBAC: every binding in a tenant namespace, whoever it names ----


def test_cluster_admin_bound_in_a_tenant_namespace_to_a_stranger_group_fails() -> None:
    objects = base_objects()
    objects.append(role_binding("red-a", "everyone-admin", "cluster-admin", group("everyone")))
    verification = run(objects)
    line = "Group everyone -> ClusterRole cluster-admin in red-a (RoleBinding red-a/everyone-admin)"
    admin = one(verification, "rbac.cluster-admin", tenant="red")
    assert admin.reason == (
        "cluster-admin (every verb on every resource) is bound to a tenant identity or in a "
        "tenant namespace"
    )
    assert admin.details == (line,)
    assert one(verification, "rbac.allowed-roles", tenant="red").details == (line,)
    subjects = one(verification, "rbac.subjects", tenant="red")
    assert subjects.reason == (
        "a subject that is not the tenant's, a manager, the gateway or the controller holds "
        "rights in a tenant namespace"
    )
    assert subjects.details == (
        f"{line}: neither the tenant's, a manager, the gateway nor the controller",
    )
    assert failures(verification) == [
        ("rbac.allowed-roles", None),
        ("rbac.cluster-admin", None),
        ("rbac.subjects", None),
    ]
    assert {r.tenant for r in verification.results if not r.ok} == {"red"}


def test_an_unlisted_cluster_role_bound_to_the_tenants_own_service_account_fails() -> None:
    objects = base_objects()
    objects.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "secret-reader"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
        }
    )
    objects.append(
        role_binding("blue-a", "reader", "secret-reader", service_account("blue-a", "worker"))
    )
    verification = run(objects)
    result = one(verification, "rbac.allowed-roles", tenant="blue")
    assert result.reason == (
        "a RoleBinding in a tenant namespace uses a ClusterRole outside the allowed set "
        "(admin, edit, tenantctl-sandbox-user, tenantctl-sandbox-viewer, view)"
    )
    assert result.details == (
        "ServiceAccount blue-a/worker -> ClusterRole secret-reader in blue-a "
        "(RoleBinding blue-a/reader)",
    )
    assert failures(verification) == [("rbac.allowed-roles", None)]


def test_anonymous_users_granted_a_tenant_namespace_fail_even_with_a_single_tenant() -> None:
    objects = [o for o in base_objects() if "red" not in o["metadata"].get("namespace", "")]
    objects = [o for o in objects if not o["metadata"]["name"].startswith("red-")]
    objects.append(role_binding("blue-a", "anonymous", "view", group("system:unauthenticated")))
    verification = run(objects)
    result = one(verification, "rbac.subjects", tenant="blue")
    assert result.details == (
        "Group system:unauthenticated -> ClusterRole view in blue-a "
        "(RoleBinding blue-a/anonymous): a group every identity is in",
    )
    assert failures(verification) == [("rbac.subjects", None)]


def test_every_service_account_of_a_platform_namespace_is_no_tenant_subject() -> None:
    objects = base_objects()
    objects.append(role_binding("red-b", "ci", "edit", group("system:serviceaccounts:default")))
    verification = run(objects)
    result = one(verification, "rbac.subjects", tenant="red")
    assert result.details == (
        "Group system:serviceaccounts:default -> ClusterRole edit in red-b "
        "(RoleBinding red-b/ci): every ServiceAccount of namespace default",
    )
    assert failures(verification) == [("rbac.subjects", None)]


def test_the_gateway_may_hold_its_write_role_in_a_tenant_namespace() -> None:
    # Positive control: the platform's own binding, as tenantctl renders it.
    objects = base_objects()
    gateway = service_account("tenantctl-system", "sandbox-gateway")
    objects.append(role_binding("red-a", "tenantctl-gateway", "tenantctl-gateway-write", gateway))
    read = role_binding("", "tenantctl-gateway-read", "tenantctl-gateway-read", gateway)
    read["kind"] = "ClusterRoleBinding"
    del read["metadata"]["namespace"]
    objects.append(read)
    verification = run(objects)
    assert failures(verification) == []
    # ... but the same role for anyone else is outside the allowed set.
    objects.append(
        role_binding("red-a", "borrowed", "tenantctl-gateway-write", group("red-admins"))
    )
    assert not one(run(objects), "rbac.allowed-roles", tenant="red").ok


def test_a_stranger_bound_in_a_tenant_namespace_fails_against_the_spec_too() -> None:
    objects = example_objects()
    objects.append(role_binding("alpha-dev", "everyone-admin", "cluster-admin", group("everyone")))
    verification = run_example(objects)
    assert failures(verification) == [
        ("rbac.allowed-roles", None),
        ("rbac.cluster-admin", None),
        ("rbac.subjects", None),
    ]
    assert one(verification, "rbac.subjects", tenant="alpha").details == (
        "Group everyone -> ClusterRole cluster-admin in alpha-dev "
        "(RoleBinding alpha-dev/everyone-admin): neither the tenant's, a manager, the gateway "
        "nor the controller",
    )


# ---- Istio: callers named by wildcards ----


def allow_agent_source(objects: list[Manifest]) -> Manifest:
    policy = find(objects, "AuthorizationPolicy", "blue-a", "allow-agent")
    return policy["spec"]["rules"][0]["from"][0]["source"]


def test_an_allow_rule_for_every_principal_fails() -> None:
    objects = base_objects()
    allow_agent_source(objects)["principals"] = ["*"]
    verification = run(objects)
    result = one(verification, "istio.wildcards", "blue-a")
    assert result.reason == (
        "an AuthorizationPolicy admits callers by a wildcard that reaches beyond the tenant"
    )
    assert result.details == (
        "allow-agent rule 0: principal * matches callers outside tenant blue's namespaces",
    )
    assert failures(verification) == [("istio.wildcards", "blue-a")]


def test_an_allow_rule_for_every_namespace_fails() -> None:
    objects = base_objects()
    allow_agent_source(objects)["namespaces"] = ["*"]
    verification = run(objects)
    assert one(verification, "istio.wildcards", "blue-a").details == (
        "allow-agent rule 0: namespace * matches callers outside tenant blue's namespaces",
    )
    assert failures(verification) == [("istio.wildcards", "blue-a")]


def test_a_principal_prefix_over_other_namespaces_fails() -> None:
    objects = base_objects()
    allow_agent_source(objects)["principals"] = ["cluster.local/ns/beta-*"]
    verification = run(objects)
    assert one(verification, "istio.wildcards", "blue-a").details == (
        "allow-agent rule 0: principal cluster.local/ns/beta-* matches callers outside tenant "
        "blue's namespaces",
    )
    assert failures(verification) == [("istio.wildcards", "blue-a")]


def test_a_principal_prefix_inside_the_tenants_own_namespace_passes() -> None:
    objects = base_objects()
    allow_agent_source(objects)["principals"] = ["cluster.local/ns/blue-a/sa/*"]
    verification = run(objects)
    assert one(verification, "istio.wildcards", "blue-a").ok
    assert failures(verification) == []


def test_a_wildcard_policy_beside_the_agents_fails_against_the_spec_too() -> None:
    # With a spec only the agents' policies were compared; any other ALLOW policy went unread.
    objects = example_objects()
    objects.append(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "open-metrics", "namespace": "alpha-prod"},
            "spec": {
                "selector": {"matchLabels": {"app": "metrics"}},
                "action": "ALLOW",
                "rules": [{"from": [{"source": {"namespaces": ["*"]}}]}],
            },
        }
    )
    verification = run_example(objects)
    assert one(verification, "istio.wildcards", "alpha-prod").details == (
        "open-metrics rule 0: namespace * matches callers outside tenant alpha's namespaces",
    )
    assert failures(verification) == [("istio.wildcards", "alpha-prod")]


# ---- Services that expose pods outside the cluster ----


def service(namespace: str, name: str, kind: str = "ClusterIP", **spec: Any) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"type": kind, "ports": [{"port": 80}], **spec},
    }


def test_a_nodeport_service_in_a_tenant_namespace_fails_without_a_live_cluster() -> None:
    objects = base_objects()
    objects.append(service("red-b", "web", "NodePort"))
    verification = run(objects)
    result = one(verification, "services.exposure", "red-b")
    assert result.reason == (
        "a Service exposes pods outside the cluster network in a way the spec does not allow"
    )
    assert result.details == (
        "Service red-b/web is type NodePort, which the namespace does not allow",
    )
    assert failures(verification) == [("services.exposure", "red-b")]


def test_a_load_balancer_is_allowed_where_the_namespace_says_so_and_external_ips_never() -> None:
    objects = base_objects()
    namespace = find(objects, "Namespace", None, "blue-a")
    namespace["metadata"]["annotations"] = {"tenantctl.dev/allow-loadbalancer-services": "true"}
    objects.append(service("blue-a", "public", "LoadBalancer"))
    assert failures(run(objects)) == []
    objects.append(service("blue-a", "capture", externalIPs=["198.51.100.7"]))
    verification = run(objects)
    assert one(verification, "services.exposure", "blue-a").details == (
        "Service blue-a/capture sets externalIPs 198.51.100.7",
    )
    assert failures(verification) == [("services.exposure", "blue-a")]


def test_a_load_balancer_the_spec_does_not_allow_fails_against_the_spec() -> None:
    objects = example_objects()
    objects.append(service("alpha-dev", "public", "LoadBalancer"))
    verification = run_example(objects)
    assert one(verification, "services.exposure", "alpha-dev").details == (
        "Service alpha-dev/public is type LoadBalancer, which the namespace does not allow",
    )
    assert failures(verification) == [("services.exposure", "alpha-dev")]


# ---- NetworkPolicy: pods carrying the labels of several rules at once ----


def network_policy(namespace: str, name: str, pods: Manifest, **spec: Any) -> Manifest:
    types = [t for t in ("Ingress", "Egress") if t.lower() in spec]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"podSelector": pods, "policyTypes": types, **spec},
    }


def namespace_peer(name: str, pods: Manifest | None = None) -> Manifest:
    peer: Manifest = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}
    if pods is not None:
        peer["podSelector"] = pods
    return peer


def test_a_pod_with_the_labels_of_two_tenants_rules_at_once_is_a_path() -> None:
    # red lets pods labelled a=set send to blue-a; blue admits red-a's pods labelled b=set.
    # Neither label alone opens a path; a pod carrying both does, and red's admins choose labels.
    objects = base_objects()
    objects.append(
        network_policy(
            "red-a",
            "a-to-blue",
            {"matchLabels": {"a": "set"}},
            egress=[{"to": [namespace_peer("blue-a")]}],
        )
    )
    objects.append(
        network_policy(
            "blue-a",
            "from-red-b",
            {},
            ingress=[{"from": [namespace_peer("red-a", {"matchLabels": {"b": "set"}})]}],
        )
    )
    verification = run(objects)
    path = (
        "red-a/a=set,b=set -> blue-a (any pod): all ports "
        "(egress: red-a/a-to-blue; ingress: blue-a/from-red-b)"
    )
    for tenant in ("red", "blue"):
        result = one(verification, "network.cross-tenant", tenant=tenant)
        assert result.reason == "2 path(s) to or from other tenants that the spec does not declare"
        assert path in result.details
    assert one(verification, "network.egress", "red-a").details[0] == path
    assert failures(verification) == [
        ("network.cross-tenant", None),
        ("network.cross-tenant", None),
        ("network.egress", "red-a"),
        ("network.ingress", "blue-a"),
    ]


def test_pods_of_one_namespace_fall_into_classes_not_a_power_set() -> None:
    inventory = manifests.Inventory.of("test", base_objects())
    reach = network.analyse_network(inventory, expectations.infer(inventory)).reachability
    # blue-a: only allow-agent's app=agent matters there.
    assert [str(p) for p in reach.classes_by_namespace["blue-a"]] == [
        "blue-a (any pod)",
        "blue-a/app=agent",
    ]


def test_selectors_with_too_many_independent_labels_fail_rather_than_pass_unexamined() -> None:
    objects = base_objects()
    for index in range(10):
        objects.append(
            network_policy(
                "red-a",
                f"label-{index}",
                {"matchLabels": {f"k{index}": "x"}},
                egress=[{"to": [namespace_peer("red-b")]}],
            )
        )
    verification = run(objects)
    result = one(verification, "network.label-combinations", "red-a")
    assert result.reason == (
        "the pod selectors that apply in red-a allow more than 512 distinct kinds of pod; "
        "verify analysed one pod per selector there, which misses pods carrying several "
        "selectors' labels at once"
    )
    assert failures(verification) == [("network.label-combinations", "red-a")]


# ---- ipBlocks that reach into the cluster's own networks ----


def egress_to(namespace: str, name: str, cidr: str, *excepts: str) -> Manifest:
    block: Manifest = {"cidr": cidr, **({"except": list(excepts)} if excepts else {})}
    return network_policy(
        namespace, name, {}, egress=[{"to": [{"ipBlock": block}], "ports": [{"port": 443}]}]
    )


def test_egress_to_everywhere_fails_without_cluster_networks_being_given() -> None:
    objects = base_objects()
    objects.append(egress_to("red-a", "internet", "0.0.0.0/0"))
    verification = run(objects)
    result = one(verification, "network.ipblock-cluster", "red-a")
    assert result.reason == (
        "an ipBlock reaches into the cluster's pod or service networks (assumed): most network "
        "plugins apply it to pods, so it opens paths to or from every namespace; carve those "
        "networks out with except"
    )
    assert result.details == (
        "red-a/internet egress to 0.0.0.0/0 reaches the private range 10.0.0.0/8 "
        "(10.0.0.0/8 not carved out by except)",
        "red-a/internet egress to 0.0.0.0/0 reaches the private range 172.16.0.0/12 "
        "(172.16.0.0/12 not carved out by except)",
        "red-a/internet egress to 0.0.0.0/0 reaches the private range 192.168.0.0/16 "
        "(192.168.0.0/16 not carved out by except)",
    )
    # ... and the consequence: every pod that accepts anything is now reachable on 443.
    egress = one(verification, "network.egress", "red-a")
    assert (
        "red-a (any pod) -> kube-system (any pod): TCP 443 (egress: red-a/internet; "
        "ingress: ingress not isolated)" in egress.details
    )
    assert failures(verification) == [
        ("network.egress", "red-a"),
        ("network.ipblock-cluster", "red-a"),
    ]
    assert one(verification, "network.cluster-networks").reason == (
        "cluster networks assumed (none declared): 10.0.0.0/8, 172.16.0.0/12, "
        "192.168.0.0/16, fc00::/7; declare spec.clusterNetworks or pass --cluster-cidr to "
        "narrow this"
    )


def test_egress_to_everywhere_passes_once_the_declared_networks_are_carved_out() -> None:
    objects = base_objects()
    objects.append(egress_to("red-a", "internet", "0.0.0.0/0", "10.244.0.0/16", "10.96.0.0/12"))
    networks = clusternet.resolve(pods=["10.244.0.0/16"], services=["10.96.0.0/12"])
    verification = run(objects, cluster_networks=networks)
    assert failures(verification) == []
    assert one(verification, "network.cluster-networks").reason == (
        "cluster networks declared: pod network 10.244.0.0/16, service network 10.96.0.0/12"
    )
    # The same rule fails when only part of the pod network is carved out.
    objects[-1] = egress_to("red-a", "internet", "0.0.0.0/0", "10.244.0.0/17", "10.96.0.0/12")
    result = one(run(objects, cluster_networks=networks), "network.ipblock-cluster", "red-a")
    assert result.details == (
        "red-a/internet egress to 0.0.0.0/0 except 10.244.0.0/17, 10.96.0.0/12 reaches the "
        "pod network 10.244.0.0/16 (10.244.128.0/17 not carved out by except)",
    )


def test_cluster_cidr_on_the_command_line_declares_the_networks(tmp_path: Path) -> None:
    objects = base_objects()
    objects.append(egress_to("red-a", "internet", "0.0.0.0/0", "10.244.0.0/16"))
    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all(objects))
    command = ["verify", "--manifests", str(tmp_path), "-o", "json"]
    assumed = CliRunner().invoke(main, command)
    assert assumed.exit_code == 1
    declared = CliRunner().invoke(main, [*command, "--cluster-cidr", "10.244.0.0/16"])
    assert declared.exit_code == 0, declared.output
    reasons = {r["check"]: r["reason"] for r in json.loads(declared.output)["results"]}
    assert reasons["network.cluster-networks"] == (
        "cluster networks declared: cluster network 10.244.0.0/16"
    )


def test_one_tenant_sending_to_a_private_range_another_accepts_from_is_a_path() -> None:
    objects = base_objects()
    objects.append(egress_to("red-a", "database", "10.0.0.0/8"))
    objects.append(
        network_policy(
            "blue-a", "from-office", {}, ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]
        )
    )
    verification = run(objects)  # no cluster networks given: the private ranges are assumed
    path = (
        "red-a (any pod) -> blue-a (any pod): TCP 443 "
        "(egress: red-a/database; ingress: blue-a/from-office)"
    )
    for tenant in ("red", "blue"):
        assert path in one(verification, "network.cross-tenant", tenant=tenant).details
    assert one(verification, "network.ipblock-cluster", "blue-a").details == (
        "blue-a/from-office ingress from 10.0.0.0/8 reaches the private range 10.0.0.0/8 "
        "(10.0.0.0/8 not carved out by except)",
    )
    assert failures(verification) == [
        ("network.cross-tenant", None),
        ("network.cross-tenant", None),
        ("network.egress", "red-a"),
        ("network.ingress", "blue-a"),
        ("network.ipblock-cluster", "blue-a"),
        ("network.ipblock-cluster", "red-a"),
    ]


# ---- paths the spec declares that the manifests no longer give ----


def test_a_same_tenant_path_lost_to_a_selector_nobody_matches_is_reported() -> None:
    objects = example_objects()
    policy = find(objects, "NetworkPolicy", "alpha-dev", "allow-same-tenant")
    policy["spec"]["podSelector"] = {"matchLabels": {"app": "nobody"}}
    verification = run_example(objects)
    into_dev = one(verification, "network.declared-paths", "alpha-dev")
    assert into_dev.reason == (
        "2 path(s) the spec declares are not open: the manifests no longer give them"
    )
    assert into_dev.details == (
        "alpha-prod (any pod) -> alpha-dev (any pod): allowed nothing, the spec declares all "
        "ports (same tenant)",
        "alpha-prod/app.kubernetes.io/name=research-agent -> alpha-dev (any pod): allowed "
        "nothing, the spec declares all ports (same tenant)",
    )
    assert one(verification, "network.declared-paths", "alpha-prod").details == (
        "alpha-dev (any pod) -> alpha-prod (any pod): allowed nothing, the spec declares all "
        "ports (same tenant)",
        "alpha-dev (any pod) -> alpha-prod/app.kubernetes.io/name=research-agent: allowed "
        "TCP 8000, the spec declares all ports (same tenant)",
    )
    assert failures(verification) == [
        ("network.declared-paths", "alpha-dev"),
        ("network.declared-paths", "alpha-prod"),
    ]


def test_a_declared_ingress_source_narrowed_to_pods_nobody_runs_is_reported() -> None:
    objects = example_objects()
    policy = find(objects, "NetworkPolicy", "beta-dev", "allow-ingress-ingress-gateway")
    policy["spec"]["podSelector"] = {"matchLabels": {"app": "nobody"}}
    verification = run_example(objects)
    assert one(verification, "network.declared-paths", "beta-dev").details == (
        "istio-ingress/istio=ingressgateway -> beta-dev (any pod): allowed nothing, the spec "
        "declares TCP 8080 (ingress source ingress-gateway)",
    )
    assert failures(verification) == [("network.declared-paths", "beta-dev")]
