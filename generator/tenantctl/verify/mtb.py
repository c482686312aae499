"""The Multi-Tenancy Benchmark plan: which probes to send as which tenant identity.

Pure: from the cluster's objects (as read) and the expectations to a list of ``Benchmark``s;
``live`` sends them. The checks follow the archived kubernetes-sigs Multi-Tenancy Benchmarks
(docs/design.md §11): no cluster-scoped access, no quota writes, the pod-security set
(capabilities, root, privileged, escalation, hostPath, host network/ports/PID/IPC, pull policy),
no NodePort, self-service Roles/RoleBindings/NetworkPolicies, no edits to the platform's objects,
no access to other tenants (every ordered pair), plus tenantctl's own: residency, rolebinding
scope, namespace labels, sandbox identity, read-only viewers. Each pod denial is the compliant
pod with exactly one change, so a refusal can only be about that change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from tenantctl import labels, residency
from tenantctl.apigroups import SANDBOX_API_VERSION, SANDBOX_RESOURCE
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


# A change to a pod: its spec and its first container, edited in place.
PodChange = Callable[[dict[str, Any], dict[str, Any]], None]


def _variant(pod: Manifest, change: PodChange) -> Manifest:
    copy: Manifest = yaml.safe_load(yaml.safe_dump(pod))
    change(copy["spec"], copy["spec"]["containers"][0])
    return copy


def _pod_denials(namespace: str, pod: Manifest, require_pull_always: bool) -> list[Probe]:
    """MTB's pod checks, each one change away from the compliant pod."""

    def add_capability(spec: dict[str, Any], container: dict[str, Any]) -> None:
        container["securityContext"]["capabilities"]["add"] = ["NET_ADMIN"]

    def run_as_root(spec: dict[str, Any], container: dict[str, Any]) -> None:
        spec["securityContext"]["runAsNonRoot"] = False
        spec["securityContext"]["runAsUser"] = 0

    def privileged(spec: dict[str, Any], container: dict[str, Any]) -> None:
        container["securityContext"] = {"privileged": True}

    def escalate(spec: dict[str, Any], container: dict[str, Any]) -> None:
        container["securityContext"]["allowPrivilegeEscalation"] = True

    def host_path(spec: dict[str, Any], container: dict[str, Any]) -> None:
        spec["volumes"] = [{"name": "host", "hostPath": {"path": "/etc"}}]
        container["volumeMounts"] = [{"name": "host", "mountPath": "/host"}]

    def host_network(spec: dict[str, Any], container: dict[str, Any]) -> None:
        spec["hostNetwork"] = True

    def host_port(spec: dict[str, Any], container: dict[str, Any]) -> None:
        container["ports"] = [{"containerPort": 8080, "hostPort": 8080}]

    def host_pid(spec: dict[str, Any], container: dict[str, Any]) -> None:
        spec["hostPID"] = True

    def host_ipc(spec: dict[str, Any], container: dict[str, Any]) -> None:
        spec["hostIPC"] = True

    def pull_if_not_present(spec: dict[str, Any], container: dict[str, Any]) -> None:
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

    def leave_region(spec: dict[str, Any], container: dict[str, Any]) -> None:
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
        admin = _identity(tenant, "admin") or _identity(tenant, "edit")
        if admin is None or not tenant.namespaces:
            continue  # live.verify_cluster reports the tenant it could not act as
        target = _Target(tenant, admin, tenant.namespaces[0], namespaces.get(tenant.namespaces[0]))
        found += [
            _cluster_resources(target),
            _quota_write(target, inventory),
            _pod_security(target),
            _service_exposure(target),
            _self_service(target),
            _rolebinding_scope(target, wanted),
            _platform_objects(target, inventory),
            _namespace_labels(target),
            _sandbox_identity(target, sandbox_service_account),
        ]
        viewer = _identity(tenant, "view")
        if viewer is not None:
            found.append(_viewer_read_only(target, viewer))
        other_tenants = _other_tenants(target, wanted)
        if other_tenants is not None:
            found.append(other_tenants)
    return found


@dataclass(frozen=True)
class _Target:
    """One tenant as the benchmark sees it: an admin identity and its first namespace."""

    tenant: TenantExpectation
    admin: Identity
    namespace: str
    namespace_object: Manifest | None

    @property
    def annotations(self) -> dict[str, str]:
        return (self.namespace_object or {}).get("metadata", {}).get("annotations") or {}

    @property
    def pod(self) -> Manifest:
        try:
            node_selector = residency.namespace_node_selector(self.namespace_object)
        except residency.ResidencyError:
            node_selector = {}  # the residency policy refuses the probe; the result says so
        return compliant_pod(self.namespace, node_selector, PROBE_NAME)

    def create_pod(self) -> Probe:
        return Probe("create a compliant pod", "POST", _core(self.namespace, "pods"), self.pod)

    def list_pods(self) -> Probe:
        return Probe("list pods", "GET", _core(self.namespace, "pods"))

    def create_config_map(self, namespace: str | None = None) -> Probe:
        where = namespace or self.namespace
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(where)}
        label = "create a ConfigMap" + (f" in {namespace}" if namespace else "")
        return Probe(label, "POST", _core(where, "configmaps"), body)

    def create_network_policy(self) -> Probe:
        body = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta(self.namespace),
            "spec": {
                "podSelector": {"matchLabels": {"app": PROBE_NAME}},
                "policyTypes": ["Ingress"],
            },
        }
        path = _group(NETWORKING, self.namespace, "networkpolicies")
        return Probe("create a NetworkPolicy", "POST", path, body)

    def own_subject(self) -> dict[str, str]:
        """A subject the tenant may bind: its own group, else its namespace's default account."""
        groups = (
            self.tenant.roles.get("view", ((), ()))[0]
            or self.tenant.roles.get("admin", ((), ()))[0]
        )
        if groups:
            return {"apiGroup": RBAC_GROUP, "kind": "Group", "name": groups[0]}
        return {"kind": "ServiceAccount", "name": "default", "namespace": self.namespace}

    def bind(self, description: str, role: str, subject: dict[str, str]) -> Probe:
        body = {
            "apiVersion": RBAC,
            "kind": "RoleBinding",
            "metadata": _meta(self.namespace),
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
            "subjects": [subject],
        }
        return Probe(description, "POST", _group(RBAC, self.namespace, "rolebindings"), body)

    def benchmark(
        self,
        check: str,
        what: str,
        controls: list[Probe],
        denials: list[Probe] | None = None,
        *,
        identity: Identity | None = None,
        namespace: str | None = "",
    ) -> Benchmark:
        return Benchmark(
            check,
            self.tenant.name,
            self.namespace if namespace == "" else namespace,
            identity or self.admin,
            controls,
            denials or [],
            what,
        )


RBAC = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"
NETWORKING = "networking.k8s.io/v1"


def _meta(namespace: str) -> dict[str, str]:
    return {"name": PROBE_NAME, "namespace": namespace}


def _cluster_resources(target: _Target) -> Benchmark:
    return target.benchmark(
        "mtb.cluster-resources",
        "no access to cluster-scoped resources",
        [target.list_pods()],
        [Probe(what, "GET", path) for what, path in CLUSTER_READS],
    )


def _quota_write(target: _Target, inventory: Inventory) -> Benchmark:
    ns = target.namespace
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _meta(ns),
        "spec": {"hard": {"pods": "1000"}},
    }
    denials = [Probe("create a ResourceQuota", "POST", _core(ns, "resourcequotas"), quota)]
    existing = _first(inventory.of_kind("ResourceQuota"), ns, managed=False)
    if existing is not None:
        denials.append(
            Probe(
                f"raise ResourceQuota {name_of(existing)}",
                "PATCH",
                _core(ns, "resourcequotas", name_of(existing)),
                {"spec": {"hard": {"pods": "100000"}}},
                MERGE_PATCH,
            )
        )
    limit_range = _first(inventory.of_kind("LimitRange"), ns, managed=False)
    if limit_range is not None:
        denials.append(
            Probe(
                f"delete LimitRange {name_of(limit_range)}",
                "DELETE",
                _core(ns, "limitranges", name_of(limit_range)),
            )
        )
    return target.benchmark(
        "mtb.quota-write", "no write access to quotas", [target.create_config_map()], denials
    )


def _pod_security(target: _Target) -> Benchmark:
    pull_always = target.annotations.get(labels.REQUIRE_PULL_ALWAYS, "true").lower() == "true"
    return target.benchmark(
        "mtb.pod-security",
        "privileged, root, host and capability pods are rejected",
        [target.create_pod()],
        _pod_denials(target.namespace, target.pod, pull_always),
    )


def _service_exposure(target: _Target) -> Benchmark:
    ns = target.namespace
    cluster_ip: Manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(ns),
        "spec": {"ports": [{"port": 80}], "selector": {"app": PROBE_NAME}},
    }
    denials = []
    for kind, switch in (
        ("NodePort", labels.ALLOW_NODEPORT),
        ("LoadBalancer", labels.ALLOW_LOADBALANCER),
    ):
        if target.annotations.get(switch, "false").lower() != "true":
            service = {**cluster_ip, "spec": {**cluster_ip["spec"], "type": kind}}
            denials.append(
                Probe(f"create a {kind} Service", "POST", _core(ns, "services"), service)
            )
    control = Probe("create a ClusterIP Service", "POST", _core(ns, "services"), cluster_ip)
    return target.benchmark(
        "mtb.service-exposure",
        "NodePort and LoadBalancer Services are rejected",
        [control],
        denials,
    )


def _self_service(target: _Target) -> Benchmark:
    role = {
        "apiVersion": RBAC,
        "kind": "Role",
        "metadata": _meta(target.namespace),
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
    }
    return target.benchmark(
        "mtb.self-service",
        "tenants manage their own Roles, RoleBindings and NetworkPolicies",
        [
            target.create_network_policy(),
            Probe("create a Role", "POST", _group(RBAC, target.namespace, "roles"), role),
            target.bind(
                "bind ClusterRole view to the tenant's own group", "view", target.own_subject()
            ),
        ],
    )


def _rolebinding_scope(target: _Target, wanted: Expectations) -> Benchmark:
    denials = [
        target.bind(
            "bind cluster-admin in the tenant's namespace", "cluster-admin", target.own_subject()
        )
    ]
    for other in wanted.tenants:
        groups = [g for g in sorted(other.groups) if g not in target.tenant.groups]
        if other.name != target.tenant.name and groups:
            subject = {"apiGroup": RBAC_GROUP, "kind": "Group", "name": groups[0]}
            denials.append(
                target.bind(
                    f"grant view to tenant {other.name}'s group {groups[0]}", "view", subject
                )
            )
            break
    return target.benchmark(
        "mtb.rolebinding-scope",
        "no cluster-admin and no grants to other tenants",
        [
            target.bind(
                "bind ClusterRole view to the tenant's own group", "view", target.own_subject()
            )
        ],
        denials,
    )


def _platform_objects(target: _Target, inventory: Inventory) -> Benchmark:
    ns = target.namespace
    denials = []
    policy = _first(inventory.of_kind("NetworkPolicy"), ns, prefer="default-deny")
    if policy is not None:
        path = _group(NETWORKING, ns, "networkpolicies", name_of(policy))
        denials.append(Probe(f"delete NetworkPolicy {name_of(policy)}", "DELETE", path))
        denials.append(
            Probe(
                f"widen NetworkPolicy {name_of(policy)} to every pod",
                "PATCH",
                path,
                {"spec": {"ingress": [{}]}},
                MERGE_PATCH,
            )
        )
    binding = _first(inventory.of_kind("RoleBinding"), ns)
    if binding is not None:
        denials.append(
            Probe(
                f"delete RoleBinding {name_of(binding)}",
                "DELETE",
                _group(RBAC, ns, "rolebindings", name_of(binding)),
            )
        )
    return target.benchmark(
        "mtb.platform-objects",
        "no edits to the platform's objects in the tenant namespace",
        [target.create_network_policy()],
        denials,
    )


def _namespace_labels(target: _Target) -> Benchmark:
    path = f"/api/v1/namespaces/{target.namespace}"

    def relabel(key: str, value: str, description: str) -> Probe:
        body = {"metadata": {"labels": {key: value}}}
        return Probe(description, "PATCH", path, body, MERGE_PATCH)

    return target.benchmark(
        "mtb.namespace-labels",
        "no relabelling of the tenant namespace",
        [Probe("get the namespace", "GET", path)],
        [
            relabel(labels.TENANT, "someone-else", f"set {labels.TENANT} on the namespace"),
            relabel(
                labels.POD_SECURITY_ENFORCE,
                "privileged",
                f"set {labels.POD_SECURITY_ENFORCE}=privileged on the namespace",
            ),
        ],
    )


def _sandbox_identity(target: _Target, sandbox_service_account: str) -> Benchmark:
    ns = target.namespace
    as_sandbox = _variant(
        target.pod, lambda spec, _: spec.update(serviceAccountName=sandbox_service_account)
    )
    sandbox = {
        "apiVersion": SANDBOX_API_VERSION,
        "kind": "Sandbox",
        "metadata": _meta(ns),
        "spec": {"podTemplate": {"spec": {"containers": [{"name": "main", "image": IMAGE}]}}},
    }
    return target.benchmark(
        "mtb.sandbox-identity",
        "sandboxes only through the gateway; no pods as the sandbox account",
        [target.create_pod()],
        [
            Probe(
                f"create a pod as ServiceAccount {sandbox_service_account}",
                "POST",
                _core(ns, "pods"),
                as_sandbox,
            ),
            Probe(
                "create a Sandbox directly",
                "POST",
                _group(SANDBOX_API_VERSION, ns, SANDBOX_RESOURCE),
                sandbox,
            ),
        ],
    )


def _viewer_read_only(target: _Target, viewer: Identity) -> Benchmark:
    return target.benchmark(
        "mtb.viewer-read-only",
        "viewers read but cannot write",
        [target.list_pods()],
        [target.create_config_map(), target.create_pod()],
        identity=viewer,
    )


def _other_tenants(target: _Target, wanted: Expectations) -> Benchmark | None:
    """This tenant's admin against every namespace of every other tenant (ordered pairs)."""
    denials = []
    for other in wanted.tenants:
        if other.name == target.tenant.name:
            continue
        for other_ns in other.namespaces:
            denials += [
                Probe(f"list pods in {other_ns}", "GET", _core(other_ns, "pods")),
                Probe(f"list secrets in {other_ns}", "GET", _core(other_ns, "secrets")),
                target.create_config_map(other_ns),
            ]
    if not denials:
        return None
    controls = [
        target.list_pods(),
        Probe("list secrets", "GET", _core(target.namespace, "secrets")),
        target.create_config_map(),
    ]
    return target.benchmark(
        "mtb.other-tenants",
        "no access to any other tenant's namespaces",
        controls,
        denials,
        namespace=None,
    )
