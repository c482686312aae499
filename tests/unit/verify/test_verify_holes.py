"""The hole catalogue: each known way multi-tenant set-ups leak is caught, for the right reason.

Every test breaks exactly one thing in the hand-written base set-up (manifests/base.yaml) and
asserts both which checks fail (and that nothing else does) and what the reason says, so a check
that fails for the wrong reason fails the test.
"""

from __future__ import annotations

from verifycases import EXAMPLE, base_objects, failures, find, one, run, without

from tenantctl.spec.reading import read_tenantset
from tenantctl.verify import admission, expectations, manifests, network


def test_the_hand_written_base_passes_every_check() -> None:
    verification = run(base_objects())
    assert failures(verification) == []
    assert verification.ok


def test_a_namespace_without_any_ingress_policy_has_no_default_deny() -> None:
    objects = base_objects()
    objects = without(objects, "NetworkPolicy", "blue-a", "default-deny")
    objects = without(objects, "NetworkPolicy", "blue-a", "allow-agent")
    verification = run(objects)
    result = one(verification, "network.default-deny", "blue-a")
    assert not result.ok
    assert result.reason.startswith("no default deny for ingress")
    # ... and the consequence: every namespace, other tenants included, can connect in.
    ingress = one(verification, "network.ingress", "blue-a")
    assert not ingress.ok
    assert ingress.reason.endswith("(from any other namespace)")
    assert ingress.details == (
        "(any other namespace) (any pod) -> blue-a (any pod): all ports "
        "(egress: egress not isolated; ingress: ingress not isolated)",
    )
    assert failures(verification) == [
        ("network.default-deny", "blue-a"),
        ("network.ingress", "blue-a"),
    ]


def test_isolation_that_rests_on_allow_policies_alone_is_not_a_default_deny() -> None:
    # red-a stays isolated (allow-same-tenant selects every pod for both directions), but
    # nothing denies by default: deleting allow-same-tenant would open the namespace.
    objects = without(base_objects(), "NetworkPolicy", "red-a", "default-deny")
    verification = run(objects)
    result = one(verification, "network.default-deny", "red-a")
    assert not result.ok
    assert "isolated only by allow policies" in result.reason
    assert failures(verification) == [("network.default-deny", "red-a")]


def test_a_namespace_selector_on_a_label_tenants_can_set_is_spoofable() -> None:
    objects = base_objects()
    policy = find(objects, "NetworkPolicy", "red-a", "allow-same-tenant")
    peer = {"namespaceSelector": {"matchLabels": {"team": "red"}}}
    policy["spec"]["ingress"][0]["from"] = [peer]
    policy["spec"]["egress"][0]["to"] = [peer]
    verification = run(objects)
    result = one(verification, "network.spoofable-selector", "red-a")
    assert not result.ok
    assert "trusts a label a tenant can set" in result.reason
    assert "trusts label team" in result.details[0]
    assert ("network.spoofable-selector", "red-a") in failures(verification)


def test_a_selector_on_a_protected_tenantctl_label_is_not_spoofable() -> None:
    objects = base_objects()
    policy = find(objects, "NetworkPolicy", "red-a", "allow-same-tenant")
    peer = {"namespaceSelector": {"matchLabels": {"tenantctl.dev/tenant": "red"}}}
    policy["spec"]["ingress"][0]["from"] = [peer]
    policy["spec"]["egress"][0]["to"] = [peer]
    verification = run(objects)
    assert one(verification, "network.spoofable-selector", "red-a").ok
    assert failures(verification) == []


def test_or_where_and_was_meant_opens_every_pod_of_the_dns_namespace() -> None:
    objects = base_objects()
    policy = find(objects, "NetworkPolicy", "red-a", "allow-dns")
    # Two peers (OR) instead of one peer with both selectors (AND).
    policy["spec"]["egress"][0]["to"] = [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}},
        {"podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}},
    ]
    verification = run(objects)
    lint = one(verification, "network.peer-and-or", "red-a")
    assert not lint.ok
    assert "put namespaceSelector and podSelector in one peer" in lint.details[0]
    egress = one(verification, "network.egress", "red-a")
    assert not egress.ok
    assert "to kube-system" in egress.reason
    assert any(d.startswith("red-a (any pod) -> kube-system (any pod)") for d in egress.details)
    assert failures(verification) == [("network.egress", "red-a"), ("network.peer-and-or", "red-a")]


def test_default_deny_without_a_dns_rule_breaks_name_resolution() -> None:
    objects = without(base_objects(), "NetworkPolicy", "blue-a", "allow-dns")
    verification = run(objects)
    result = one(verification, "network.dns", "blue-a")
    assert not result.ok
    assert result.reason.startswith("no DNS: pods cannot reach kube-system/k8s-app=kube-dns")
    assert "breaks name resolution" in result.reason
    assert failures(verification) == [("network.dns", "blue-a")]


def test_dns_over_udp_only_is_reported_as_missing_tcp() -> None:
    objects = base_objects()
    policy = find(objects, "NetworkPolicy", "blue-a", "allow-dns")
    policy["spec"]["egress"][0]["ports"] = [{"protocol": "UDP", "port": 53}]
    result = one(run(objects), "network.dns", "blue-a")
    assert not result.ok
    assert "allowed UDP 53, needs TCP 53, UDP 53" in result.details[0]


def test_a_path_between_tenants_needs_both_ends_and_is_then_reported() -> None:
    objects = base_objects()
    red = find(objects, "NetworkPolicy", "red-a", "allow-same-tenant")
    red["spec"]["egress"][0]["to"].append(
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "blue-a"}}}
    )
    # Only red's egress allows it: blue-a's default deny still blocks ingress, so no path.
    assert one(run(objects), "network.cross-tenant", tenant="red").ok

    blue = find(objects, "NetworkPolicy", "blue-a", "allow-agent")
    blue["spec"]["ingress"][0]["from"].append(
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "red-a"}}}
    )
    verification = run(objects)
    for tenant in ("red", "blue"):
        result = one(verification, "network.cross-tenant", tenant=tenant)
        assert not result.ok
        assert result.details == (
            "red-a (any pod) -> blue-a/app=agent: TCP 8000 "
            "(egress: red-a/allow-same-tenant; ingress: blue-a/allow-agent)",
        )


def test_a_rolebinding_to_cluster_admin_is_flagged() -> None:
    objects = base_objects()
    find(objects, "RoleBinding", "red-a", "red-admins")["roleRef"]["name"] = "cluster-admin"
    verification = run(objects)
    result = one(verification, "rbac.cluster-admin", tenant="red")
    assert not result.ok
    assert result.details == (
        "Group red-admins -> ClusterRole cluster-admin in red-a (RoleBinding red-a/red-admins)",
    )
    # cluster-admin also lets the tenant rewrite its own quota, and is outside the allowed roles.
    assert failures(verification) == [
        ("rbac.allowed-roles", None),
        ("rbac.cluster-admin", None),
        ("rbac.quota-write", None),
    ]


def test_an_extra_rolebinding_into_another_tenants_namespace_is_flagged() -> None:
    objects = base_objects()
    objects.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "help-red", "namespace": "red-b"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [{"kind": "User", "name": "bob@example.com"}],
        }
    )
    verification = run(objects)
    result = one(verification, "rbac.other-namespaces", tenant="blue")
    assert not result.ok
    assert result.details == (
        "User bob@example.com -> ClusterRole view in red-b (RoleBinding red-b/help-red)",
    )
    assert failures(verification) == [("rbac.other-namespaces", None)]


def test_a_clusterrolebinding_to_a_tenant_group_is_a_cluster_scoped_grant() -> None:
    objects = base_objects()
    objects.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "blue-view-everything"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [{"kind": "Group", "name": "blue-devs"}],
        }
    )
    result = one(run(objects), "rbac.cluster-scoped", tenant="blue")
    assert not result.ok
    assert "blue-view-everything" in result.details[0]


def test_a_grant_to_every_authenticated_user_is_a_grant_to_every_tenant() -> None:
    objects = base_objects()
    objects.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "open", "namespace": "blue-a"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [{"kind": "Group", "name": "system:authenticated"}],
        }
    )
    verification = run(objects)
    assert not one(verification, "rbac.other-namespaces", tenant="red").ok
    assert one(verification, "rbac.other-namespaces", tenant="blue").ok


def test_permissive_mtls_under_an_authorization_policy_is_flagged() -> None:
    objects = base_objects()
    find(objects, "PeerAuthentication", "blue-a", "default")["spec"]["mtls"]["mode"] = "PERMISSIVE"
    verification = run(objects)
    result = one(verification, "istio.strict-mtls", "blue-a")
    assert not result.ok
    assert result.reason.startswith(
        "AuthorizationPolicies (allow-agent, allow-nothing) run under PERMISSIVE mTLS"
    )
    assert failures(verification) == [("istio.strict-mtls", "blue-a")]


def test_without_any_peer_authentication_istio_defaults_to_permissive() -> None:
    objects = without(base_objects(), "PeerAuthentication", "blue-a", "default")
    result = one(run(objects), "istio.strict-mtls", "blue-a")
    assert not result.ok
    assert "Istio's default (no PeerAuthentication)" in result.reason


def test_mesh_wide_strict_mtls_covers_a_namespace_without_its_own() -> None:
    objects = without(base_objects(), "PeerAuthentication", "blue-a", "default")
    objects.append(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": {"name": "default", "namespace": "istio-system"},
            "spec": {"mtls": {"mode": "STRICT"}},
        }
    )
    result = one(run(objects), "istio.strict-mtls", "blue-a")
    assert result.ok
    assert "mesh-wide PeerAuthentication istio-system/default" in result.reason


def test_a_workload_level_permissive_override_weakens_strict_mtls() -> None:
    objects = base_objects()
    objects.append(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": {"name": "agent-plaintext", "namespace": "blue-a"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "mtls": {"mode": "PERMISSIVE"}},
        }
    )
    result = one(run(objects), "istio.strict-mtls", "blue-a")
    assert not result.ok
    assert result.details == (
        "PeerAuthentication blue-a/agent-plaintext sets PERMISSIVE for pods {app=agent}",
    )


def test_an_allow_rule_without_sources_admits_every_caller() -> None:
    objects = base_objects()
    rule = find(objects, "AuthorizationPolicy", "blue-a", "allow-agent")["spec"]["rules"][0]
    del rule["from"]
    result = one(run(objects), "istio.callers", "blue-a")
    assert not result.ok
    assert "has no 'from': it admits every caller" in result.details[0]


def test_a_quota_without_a_limit_range_rejects_pods_without_limits() -> None:
    objects = without(base_objects(), "LimitRange", "red-a", "limits")
    verification = run(objects)
    result = one(verification, "quota.limit-range", "red-a")
    assert not result.ok
    assert result.reason == (
        "quota on limits.cpu, limits.ephemeral-storage, limits.memory, requests.cpu, "
        "requests.ephemeral-storage, requests.memory but there is no LimitRange to give "
        "containers a default: every pod that states no limits is rejected"
    )
    assert failures(verification) == [("quota.limit-range", "red-a")]


def test_a_limit_range_with_limits_but_no_requests_leaves_request_quota_uncovered() -> None:
    # blue-a's LimitRange has only `default`; the API server copies it to defaultRequest, so
    # requests are covered too. Removing `default` and keeping nothing breaks both.
    objects = base_objects()
    find(objects, "LimitRange", "blue-a", "limits")["spec"]["limits"][0] = {
        "type": "Container",
        "defaultRequest": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "1Gi"},
    }
    result = one(run(objects), "quota.limit-range", "blue-a")
    assert not result.ok
    assert result.reason.startswith("quota on limits.cpu, limits.ephemeral-storage, limits.memory")


def test_a_quota_missing_object_counts_names_them() -> None:
    objects = base_objects()
    hard = find(objects, "ResourceQuota", "red-b", "quota")["spec"]["hard"]
    del hard["services.loadbalancers"], hard["secrets"]
    result = one(run(objects), "quota.coverage", "red-b")
    assert not result.ok
    assert result.reason == "ResourceQuota does not limit secrets, services.loadbalancers"


def test_a_namespace_without_a_quota_is_flagged() -> None:
    objects = without(base_objects(), "ResourceQuota", "blue-a", "quota")
    result = one(run(objects), "quota.coverage", "blue-a")
    assert not result.ok
    assert result.reason == "no ResourceQuota"


def test_a_missing_admission_policy_is_flagged() -> None:
    objects = without(
        base_objects(), "ValidatingAdmissionPolicy", None, "tenantctl-managed-objects.v2.example"
    )
    verification = run(objects)
    result = one(verification, "admission.policies")
    assert not result.ok
    assert result.details == ("tenantctl-managed-objects: missing",)
    assert failures(verification) == [("admission.policies", None)]


def test_an_audit_only_binding_does_not_count() -> None:
    objects = base_objects()
    name = "tenantctl-pod-restricted.v2.example"
    binding = find(objects, "ValidatingAdmissionPolicyBinding", None, name)
    binding["spec"]["validationActions"] = ["Audit"]
    result = one(run(objects), "admission.policies")
    assert not result.ok
    assert result.details == (f"{name}: no binding with Deny",)


def test_policies_whose_parameters_are_missing_are_flagged() -> None:
    parameters = ("ConfigMap", "tenantctl-system", "tenantctl-admission-example")
    objects = without(base_objects(), *parameters)
    result = one(run(objects), "admission.policies")
    assert not result.ok
    assert result.details[0] == (
        "tenantctl-sandbox-writers.v2.example: its parameters ConfigMap "
        "tenantctl-system/tenantctl-admission-example is missing"
    )


def test_a_binding_that_admits_when_its_parameters_are_missing_is_flagged() -> None:
    objects = base_objects()
    name = "tenantctl-rolebinding-scope.v2.example"
    binding = find(objects, "ValidatingAdmissionPolicyBinding", None, name)
    binding["spec"]["paramRef"]["parameterNotFoundAction"] = "Allow"
    result = one(run(objects), "admission.policies")
    assert result.details == (f"{name}: parameters must deny when missing",)


def test_parameters_edited_in_the_cluster_differ_from_the_spec() -> None:
    objects = base_objects()
    parameters = find(objects, "ConfigMap", "tenantctl-system", "tenantctl-admission-example")
    parameters["data"]["tenant.alpha.groups"] += "\nbeta-admins"
    inventory = manifests.Inventory.of("test", objects)
    example = read_tenantset(EXAMPLE)
    result = admission.check_admission(inventory, example)
    assert result.details == (
        "ConfigMap tenantctl-system/tenantctl-admission-example: parameters differ from the "
        "spec's: tenant.alpha.groups",
    )
    assert admission.check_admission(inventory, None).ok, "without a spec: presence only"


def test_without_any_admission_policy_the_namespace_is_no_boundary() -> None:
    objects = [o for o in base_objects() if "Admission" not in o["kind"]]
    result = one(run(objects), "admission.policies")
    assert not result.ok
    assert result.reason.startswith("no tenantctl admission policies")


def test_a_cluster_role_aggregated_into_admin_widens_every_tenant_admin() -> None:
    # A ClusterRole carrying the aggregate-to-admin label adds its rules to the built-in admin
    # role, so every tenant bound to admin may now raise its own quota.
    objects = base_objects()
    objects.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": "quota-editor",
                "labels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"},
            },
            "rules": [{"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["update"]}],
        }
    )
    verification = run(objects)
    result = one(verification, "rbac.quota-write", tenant="red")
    assert not result.ok
    assert result.details == (
        "Group red-admins -> ClusterRole admin in red-a (RoleBinding red-a/red-admins) "
        "allows update resourcequotas",
        "Group red-admins -> ClusterRole admin in red-b (RoleBinding red-b/red-admins) "
        "allows update resourcequotas",
    )
    # blue binds edit, which the label does not reach.
    assert failures(verification) == [("rbac.quota-write", None)]


def test_pods_of_workloads_in_the_input_are_analysed_with_their_real_labels() -> None:
    # A Deployment whose pods carry both the agent label and another: a pod the selectors alone
    # would never have produced. Its pods must still reach DNS and be held by the default deny.
    objects = base_objects()
    objects.append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "agent", "namespace": "blue-a"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent", "version": "2"}},
                    "spec": {"containers": [{"name": "agent", "image": "agent:2"}]},
                },
            },
        }
    )
    verification = run(objects)
    dns = one(verification, "network.dns", "blue-a")
    assert dns.ok
    assert failures(verification) == []
    inventory = manifests.Inventory.of("test", objects)
    reach = network.analyse_network(inventory, expectations.infer(inventory)).reachability
    assert (("app", "agent"), ("version", "2")) in {
        pod.labels for pod in reach.classes_by_namespace["blue-a"]
    }


def test_a_namespace_or_group_claimed_by_two_tenantsets_is_flagged() -> None:
    objects = base_objects()
    parameters = find(objects, "ConfigMap", "tenantctl-system", "tenantctl-admission-example")
    second = {
        **parameters,
        "metadata": {**parameters["metadata"], "name": "tenantctl-admission-second"},
        "data": {
            "specId": "second",
            "tenants": "delta",
            "tenant.delta.groups": "delta-admins\nalpha-admins",
            "tenant.delta.users": "",
            "namespace.alpha-dev": "delta",
        },
    }
    result = one(run([*objects, second]), "admission.claims")
    assert not result.ok
    assert result.details == (
        "group alpha-admins: claimed by TenantSets example, second",
        "namespace alpha-dev: claimed by TenantSets example, second",
    )
