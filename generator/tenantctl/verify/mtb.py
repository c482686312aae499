"""The Multi-Tenancy Benchmark plan: which probes to send as which tenant identity.

Pure: from the cluster's objects (as read) and the expectations to a list of ``Benchmark``s;
``live`` sends them. The checks follow DESIGN-NOTES section 5 (the archived kubernetes-sigs
Multi-Tenancy Benchmarks): no cluster-scoped access, no quota writes, the pod-security set
(capabilities, root, privileged, escalation, hostPath, host network/ports/PID/IPC, pull policy),
no NodePort, self-service Roles/RoleBindings/NetworkPolicies, no edits to the platform's objects,
no access to other tenants (every ordered pair), plus tenantctl's own: residency, rolebinding
scope, namespace labels, sandbox identity, read-only viewers. Each pod denial is the compliant
pod with exactly one change, so a refusal can only be about that change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from tenantctl import labels
from tenantctl.verify.expectations import Expectations, TenantExpectation
from tenantctl.verify.kubeclient import Identity
from tenantctl.verify.manifests import Inventory, Manifest, name_of
from tenantctl.verify.probes import Benchmark, Probe

PROBE_NAME = "tenantctl-verify-probe"
IMAGE = "registry.k8s.io/pause:3.10"
MERGE_PATCH = "application/merge-patch+json"
# Cluster-scoped reads every tenant must be refused (MTB block-access-to-cluster-resources).
CLUSTER_READS = (
    ("list nodes", "/api/v1/nodes"),
    ("list namespaces", "/api/v1/namespaces"),
    ("list persistentvolumes", "/api/v1/persistentvolumes"),
    ("list clusterroles", "/apis/rbac.authorization.k8s.io/v1/clusterroles"),
    ("list clusterrolebindings", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"),
    ("list storageclasses", "/apis/storage.k8s.io/v1/storageclasses"),
    ("list customresourcedefinitions", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"),
    (
        "list validatingadmissionpolicies",
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
    ),
)


def _core(namespace: str, resource: str, name: str | None = None) -> str:
    path = f"/api/v1/namespaces/{namespace}/{resource}"
    return f"{path}/{name}" if name else path


def _group(api: str, namespace: str, resource: str, name: str | None = None) -> str:
    path = f"/apis/{api}/namespaces/{namespace}/{resource}"
    return f"{path}/{name}" if name else path


def _node_selector(namespace: Manifest | None) -> dict[str, str]:
    raw = ((namespace or {}).get("metadata", {}).get("annotations") or {}).get(
        labels.NODE_SELECTOR, ""
    )
    pairs = (item.split("=", 1) for item in raw.split(",") if "=" in item)
    return {key: value for key, value in pairs}


def compliant_pod(namespace: str, node_selector: dict[str, str], name: str) -> Manifest:
    """A pod every tenant namespace must admit: Pod Security "restricted", pulls Always, and
    runs where the namespace's residency annotation says."""
    spec: dict[str, Any] = {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "main",
                "image": IMAGE,
                "imagePullPolicy": "Always",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    }
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _variant(pod: Manifest, change) -> Manifest:
    copy = yaml.safe_load(yaml.safe_dump(pod))
    change(copy["spec"], copy["spec"]["containers"][0])
    return copy


def _pod_denials(namespace: str, pod: Manifest, require_pull_always: bool) -> list[Probe]:
    """MTB's pod checks, each one change away from the compliant pod."""

    def add_capability(spec, container):
        container["securityContext"]["capabilities"]["add"] = ["NET_ADMIN"]

    def run_as_root(spec, container):
        spec["securityContext"]["runAsNonRoot"] = False
        spec["securityContext"]["runAsUser"] = 0

    def privileged(spec, container):
        container["securityContext"] = {"privileged": True}

    def escalate(spec, container):
        container["securityContext"]["allowPrivilegeEscalation"] = True

    def host_path(spec, container):
        spec["volumes"] = [{"name": "host", "hostPath": {"path": "/etc"}}]
        container["volumeMounts"] = [{"name": "host", "mountPath": "/host"}]

    def host_network(spec, container):
        spec["hostNetwork"] = True

    def host_port(spec, container):
        container["ports"] = [{"containerPort": 8080, "hostPort": 8080}]

    def host_pid(spec, container):
        spec["hostPID"] = True

    def host_ipc(spec, container):
        spec["hostIPC"] = True

    def pull_if_not_present(spec, container):
        container["imagePullPolicy"] = "IfNotPresent"

    changes = [
        ("adds capability NET_ADMIN", add_capability),
        ("runs as root", run_as_root),
        ("is privileged", privileged),
        ("allows privilege escalation", escalate),
        ("mounts a hostPath", host_path),
        ("uses hostNetwork", host_network),
        ("uses a hostPort", host_port),
        ("uses hostPID", host_pid),
        ("uses hostIPC", host_ipc),
    ]

    def leave_region(spec, container):
        spec.pop("nodeSelector", None)

    if require_pull_always:
        changes.append(("pulls IfNotPresent", pull_if_not_present))
    if pod["spec"].get("nodeSelector"):
        changes.append(("omits the namespace's residency node selector", leave_region))
    return [
        Probe(f"create a pod that {what}", "POST", _core(namespace, "pods"), _variant(pod, change))
        for what, change in changes
    ]


def _identity(tenant: TenantExpectation, role: str) -> Identity | None:
    groups, users = tenant.roles.get(role, ((), ()))
    if groups:
        return Identity(f"tenantctl-verify:{tenant.name}:{role}", (groups[0],))
    if users:
        return Identity(users[0], ())
    return None


def _first(
    objects: Iterable[Manifest], namespace: str, managed: bool = True, prefer: str = ""
) -> Manifest | None:
    """The object named ``prefer`` in ``namespace``, else its first (tenantctl-managed) one."""
    candidates = sorted(objects, key=lambda obj: name_of(obj) != prefer)
    for obj in candidates:
        meta = obj["metadata"]
        if meta.get("namespace") != namespace:
            continue
        owned = (meta.get("labels") or {}).get(labels.MANAGED_BY) == labels.MANAGED_BY_VALUE
        if owned or not managed:
            return obj
    return None


def benchmarks(
    inventory: Inventory,
    wanted: Expectations,
    sandbox_service_account: str,
) -> list[Benchmark]:
    """The MTB checks for every tenant, and the access checks for every ordered pair."""
    namespaces = {name_of(ns): ns for ns in inventory.of_kind("Namespace")}
    found: list[Benchmark] = []
    for tenant in wanted.tenants:
        found += _tenant_benchmarks(inventory, wanted, tenant, namespaces, sandbox_service_account)
    return found


def _tenant_benchmarks(
    inventory: Inventory,
    wanted: Expectations,
    tenant: TenantExpectation,
    namespaces: dict[str, Manifest],
    sandbox_service_account: str,
) -> list[Benchmark]:
    found: list[Benchmark] = []
    admin = _identity(tenant, "admin") or _identity(tenant, "edit")
    if admin is None or not tenant.namespaces:
        return found
    ns = tenant.namespaces[0]
    namespace = namespaces.get(ns)
    annotations = ((namespace or {}).get("metadata", {}).get("annotations")) or {}
    pod = compliant_pod(ns, _node_selector(namespace), PROBE_NAME)
    create_pod = Probe("create a compliant pod", "POST", _core(ns, "pods"), pod)
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": PROBE_NAME, "namespace": ns},
    }
    create_config_map = Probe("create a ConfigMap", "POST", _core(ns, "configmaps"), config_map)
    list_pods = Probe("list pods", "GET", _core(ns, "pods"))

    def bench(check: str, what: str, controls, denials=(), identity=admin, where=ns) -> None:
        found.append(
            Benchmark(check, tenant.name, where, identity, list(controls), list(denials), what)
        )

    bench(
        "mtb.cluster-resources",
        "no access to cluster-scoped resources",
        [list_pods],
        [Probe(what, "GET", path) for what, path in CLUSTER_READS],
    )
    quota = _first(inventory.of_kind("ResourceQuota"), ns, managed=False)
    limit_range = _first(inventory.of_kind("LimitRange"), ns, managed=False)
    quota_denials = [
        Probe(
            "create a ResourceQuota",
            "POST",
            _core(ns, "resourcequotas"),
            {
                "apiVersion": "v1",
                "kind": "ResourceQuota",
                "metadata": {"name": PROBE_NAME, "namespace": ns},
                "spec": {"hard": {"pods": "1000"}},
            },
        )
    ]
    if quota is not None:
        quota_denials.append(
            Probe(
                f"raise ResourceQuota {name_of(quota)}",
                "PATCH",
                _core(ns, "resourcequotas", name_of(quota)),
                {"spec": {"hard": {"pods": "100000"}}},
                MERGE_PATCH,
            )
        )
    if limit_range is not None:
        quota_denials.append(
            Probe(
                f"delete LimitRange {name_of(limit_range)}",
                "DELETE",
                _core(ns, "limitranges", name_of(limit_range)),
            )
        )
    bench("mtb.quota-write", "no write access to quotas", [create_config_map], quota_denials)

    bench(
        "mtb.pod-security",
        "privileged, root, host and capability pods are rejected",
        [create_pod],
        _pod_denials(
            ns, pod, annotations.get(labels.REQUIRE_PULL_ALWAYS, "true").lower() == "true"
        ),
    )
    cluster_ip = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": PROBE_NAME, "namespace": ns},
        "spec": {"ports": [{"port": 80}], "selector": {"app": PROBE_NAME}},
    }
    exposure = []
    for kind, switch in (
        ("NodePort", labels.ALLOW_NODEPORT),
        ("LoadBalancer", labels.ALLOW_LOADBALANCER),
    ):
        if annotations.get(switch, "false").lower() != "true":
            service = yaml.safe_load(yaml.safe_dump(cluster_ip))
            service["spec"]["type"] = kind
            exposure.append(
                Probe(f"create a {kind} Service", "POST", _core(ns, "services"), service)
            )
    bench(
        "mtb.service-exposure",
        "NodePort and LoadBalancer Services are rejected",
        [Probe("create a ClusterIP Service", "POST", _core(ns, "services"), cluster_ip)],
        exposure,
    )

    own_policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": PROBE_NAME, "namespace": ns},
        "spec": {
            "podSelector": {"matchLabels": {"app": PROBE_NAME}},
            "policyTypes": ["Ingress"],
        },
    }
    own_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": PROBE_NAME, "namespace": ns},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
    }
    own_group = tenant.roles.get("view", ((), ()))[0] or tenant.roles.get("admin", ((),))[0]
    subject = (
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": own_group[0]}
        if own_group
        else {"kind": "ServiceAccount", "name": "default", "namespace": ns}
    )

    def binding(role_kind: str, role: str, subjects: list[dict]) -> Manifest:
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": PROBE_NAME, "namespace": ns},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": role_kind,
                "name": role,
            },
            "subjects": subjects,
        }

    rbac_path = "rbac.authorization.k8s.io/v1"
    bench(
        "mtb.self-service",
        "tenants manage their own Roles, RoleBindings and NetworkPolicies",
        [
            Probe(
                "create a NetworkPolicy",
                "POST",
                _group("networking.k8s.io/v1", ns, "networkpolicies"),
                own_policy,
            ),
            Probe("create a Role", "POST", _group(rbac_path, ns, "roles"), own_role),
            Probe(
                "bind ClusterRole view to the tenant's own group",
                "POST",
                _group(rbac_path, ns, "rolebindings"),
                binding("ClusterRole", "view", [subject]),
            ),
        ],
    )
    escalations = [
        Probe(
            "bind cluster-admin in the tenant's namespace",
            "POST",
            _group(rbac_path, ns, "rolebindings"),
            binding("ClusterRole", "cluster-admin", [subject]),
        )
    ]
    for other in wanted.tenants:
        other_groups = [g for g in sorted(other.groups) if g not in tenant.groups]
        if other.name != tenant.name and other_groups:
            escalations.append(
                Probe(
                    f"grant view to tenant {other.name}'s group {other_groups[0]}",
                    "POST",
                    _group(rbac_path, ns, "rolebindings"),
                    binding(
                        "ClusterRole",
                        "view",
                        [
                            {
                                "apiGroup": "rbac.authorization.k8s.io",
                                "kind": "Group",
                                "name": other_groups[0],
                            }
                        ],
                    ),
                )
            )
            break
    bench(
        "mtb.rolebinding-scope",
        "no cluster-admin and no grants to other tenants",
        [
            Probe(
                "bind ClusterRole view to the tenant's own group",
                "POST",
                _group(rbac_path, ns, "rolebindings"),
                binding("ClusterRole", "view", [subject]),
            )
        ],
        escalations,
    )

    managed = []
    policy = _first(inventory.of_kind("NetworkPolicy"), ns, prefer="default-deny")
    if policy is not None:
        path = _group("networking.k8s.io/v1", ns, "networkpolicies", name_of(policy))
        managed.append(Probe(f"delete NetworkPolicy {name_of(policy)}", "DELETE", path))
        managed.append(
            Probe(
                f"widen NetworkPolicy {name_of(policy)} to every pod",
                "PATCH",
                path,
                {"spec": {"ingress": [{}]}},
                MERGE_PATCH,
            )
        )
    role_binding = _first(inventory.of_kind("RoleBinding"), ns)
    if role_binding is not None:
        managed.append(
            Probe(
                f"delete RoleBinding {name_of(role_binding)}",
                "DELETE",
                _group(rbac_path, ns, "rolebindings", name_of(role_binding)),
            )
        )
    bench(
        "mtb.platform-objects",
        "no edits to the platform's objects in the tenant namespace",
        [
            Probe(
                "create a NetworkPolicy",
                "POST",
                _group("networking.k8s.io/v1", ns, "networkpolicies"),
                own_policy,
            )
        ],
        managed,
    )
    bench(
        "mtb.namespace-labels",
        "no relabelling of the tenant namespace",
        [Probe("get the namespace", "GET", f"/api/v1/namespaces/{ns}")],
        [
            Probe(
                f"set {labels.TENANT} on the namespace",
                "PATCH",
                f"/api/v1/namespaces/{ns}",
                {"metadata": {"labels": {labels.TENANT: "someone-else"}}},
                MERGE_PATCH,
            ),
            Probe(
                f"set {labels.POD_SECURITY_ENFORCE}=privileged on the namespace",
                "PATCH",
                f"/api/v1/namespaces/{ns}",
                {"metadata": {"labels": {labels.POD_SECURITY_ENFORCE: "privileged"}}},
                MERGE_PATCH,
            ),
        ],
    )
    sandbox_pod = _variant(
        pod, lambda spec, _: spec.update(serviceAccountName=sandbox_service_account)
    )
    sandbox = {
        "apiVersion": "agents.x-k8s.io/v1beta1",
        "kind": "Sandbox",
        "metadata": {"name": PROBE_NAME, "namespace": ns},
        "spec": {"podTemplate": {"spec": {"containers": [{"name": "main", "image": IMAGE}]}}},
    }
    bench(
        "mtb.sandbox-identity",
        "sandboxes only through the gateway; no pods as the sandbox account",
        [create_pod],
        [
            Probe(
                f"create a pod as ServiceAccount {sandbox_service_account}",
                "POST",
                _core(ns, "pods"),
                sandbox_pod,
            ),
            Probe(
                "create a Sandbox directly",
                "POST",
                _group("agents.x-k8s.io/v1beta1", ns, "sandboxes"),
                sandbox,
            ),
        ],
    )
    viewer = _identity(tenant, "view")
    if viewer is not None:
        bench(
            "mtb.viewer-read-only",
            "viewers read but cannot write",
            [list_pods],
            [
                create_config_map,
                Probe("create a compliant pod", "POST", _core(ns, "pods"), pod),
            ],
            identity=viewer,
        )
    # Every ordered pair: this tenant's admin against every other tenant's namespaces.
    own_controls = [
        list_pods,
        Probe("list secrets", "GET", _core(ns, "secrets")),
        create_config_map,
    ]
    denials = []
    for other in wanted.tenants:
        if other.name == tenant.name:
            continue
        for other_ns in other.namespaces:
            other_map = {**config_map, "metadata": {"name": PROBE_NAME, "namespace": other_ns}}
            denials += [
                Probe(f"list pods in {other_ns}", "GET", _core(other_ns, "pods")),
                Probe(f"list secrets in {other_ns}", "GET", _core(other_ns, "secrets")),
                Probe(
                    f"create a ConfigMap in {other_ns}",
                    "POST",
                    _core(other_ns, "configmaps"),
                    other_map,
                ),
            ]
    if denials:
        bench(
            "mtb.other-tenants",
            "no access to any other tenant's namespaces",
            own_controls,
            denials,
            where=None,
        )

    return found
