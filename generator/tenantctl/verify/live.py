"""Live verification: read the cluster, prove statically, then ask it as every tenant identity.

1. Read every object the static checks need from the API server (as the kubeconfig identity)
   and run the same analysis as ``tenantctl verify SPEC`` on it, with the cluster's own
   ClusterRoles (aggregation already resolved by the server) instead of the captured ones.
2. Run the Multi-Tenancy Benchmark checks (DESIGN-NOTES section 5) as each tenant identity,
   through impersonation: for every check, first the *positive controls* (compliant requests
   that must be admitted), then the *denials*. A denial counts only after its controls were
   admitted, and only when the API server refused it for an authorisation or admission reason
   (403, or 422 from an admission policy or Pod Security), not because the request was invalid.
3. Access checks for every ordered pair of tenants, and the admission-policy bundle's presence.

Every request that could change anything carries ``dryRun=All`` (``_send`` refuses otherwise),
so nothing is created, changed or left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tenantctl import labels
from tenantctl.kube.client import Client
from tenantctl.kube.errors import ApiError, NotFound
from tenantctl.spec.model import TenantSet
from tenantctl.verify import expectations as expectations_module
from tenantctl.verify.expectations import Expectations, TenantExpectation
from tenantctl.verify.kubeclient import Identity, connect, load_connection
from tenantctl.verify.manifests import Inventory, Manifest, name_of
from tenantctl.verify.results import Result, Verification, failed, passed
from tenantctl.verify.static import verify_inventory

# (path of the cluster-wide LIST, kind, whether the API may be absent)
READ = (
    ("/api/v1/namespaces", "Namespace", False),
    ("/apis/networking.k8s.io/v1/networkpolicies", "NetworkPolicy", False),
    ("/apis/rbac.authorization.k8s.io/v1/roles", "Role", False),
    ("/apis/rbac.authorization.k8s.io/v1/rolebindings", "RoleBinding", False),
    ("/apis/rbac.authorization.k8s.io/v1/clusterroles", "ClusterRole", False),
    ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "ClusterRoleBinding", False),
    ("/api/v1/resourcequotas", "ResourceQuota", False),
    ("/api/v1/limitranges", "LimitRange", False),
    ("/apis/security.istio.io/v1/peerauthentications", "PeerAuthentication", True),
    ("/apis/security.istio.io/v1/authorizationpolicies", "AuthorizationPolicy", True),
    (
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
        "ValidatingAdmissionPolicy",
        False,
    ),
    (
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding",
        False,
    ),
)
BUILTIN_ROLE_NAMES = (
    "admin",
    "edit",
    "view",
    "cluster-admin",
    "system:aggregate-to-admin",
    "system:aggregate-to-edit",
    "system:aggregate-to-view",
)
PROBE_NAME = "tenantctl-verify-probe"
IMAGE = "registry.k8s.io/pause:3.10"
MERGE_PATCH = "application/merge-patch+json"
DEFAULT_SANDBOX_SERVICE_ACCOUNT = "openshell-sandbox"
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


@dataclass(frozen=True)
class Probe:
    """One request; ``GET`` reads, every other method is sent as a server-side dry-run."""

    description: str
    method: str
    path: str
    body: Any = None
    content_type: str = "application/json"


@dataclass(frozen=True)
class Outcome:
    probe: Probe
    admitted: bool
    status: int
    message: str

    def proper_denial(self) -> bool:
        """Refused by authorisation or admission, not by validation of a malformed request."""
        if self.admitted:
            return False
        if self.status == 403:
            return True
        text = self.message
        return self.status in (400, 422) and (
            "denied request" in text or "ValidatingAdmissionPolicy" in text or "PodSecurity" in text
        )

    def line(self) -> str:
        verdict = "admitted" if self.admitted else f"refused {self.status}"
        message = f": {self.message[:160]}" if self.message else ""
        return f"{self.probe.description}: {verdict}{message}"


@dataclass
class Benchmark:
    """One MTB check: controls that must be admitted, then denials that must be refused."""

    check: str
    tenant: str
    namespace: str | None
    identity: Identity
    controls: list[Probe]
    denials: list[Probe] = field(default_factory=list)
    what: str = ""


async def _send(client: Client, probe: Probe) -> Outcome:
    params = None
    if probe.method != "GET":
        params = {"dryRun": "All"}
    assert probe.method == "GET" or params == {"dryRun": "All"}, "live verify never writes"
    try:
        await client.request(
            probe.method,
            probe.path,
            params=params,
            body=probe.body,
            content_type=probe.content_type,
        )
    except ApiError as err:
        return Outcome(probe, False, err.status, err.message or err.reason)
    return Outcome(probe, True, 200, "")


async def _run(client: Client, benchmark: Benchmark) -> Result:
    controls = [await _send(client, probe) for probe in benchmark.controls]
    rejected = [o for o in controls if not o.admitted]
    who = f"as {benchmark.identity}"
    if rejected:
        return failed(
            benchmark.tenant,
            benchmark.check,
            f"positive control refused {who}, so the denials prove nothing: "
            f"{rejected[0].probe.description}",
            benchmark.namespace,
            [o.line() for o in controls],
        )
    outcomes = await asyncio.gather(*(_send(client, probe) for probe in benchmark.denials))
    wrong = [o for o in outcomes if not o.proper_denial()]
    details = [f"control {o.line()}" for o in controls] + [f"denial {o.line()}" for o in outcomes]
    if wrong:
        admitted = [o for o in wrong if o.admitted]
        what = "admitted" if admitted else "refused for a reason other than policy (invalid?)"
        return failed(
            benchmark.tenant,
            benchmark.check,
            f"{len(wrong)} of {len(outcomes)} request(s) that must be denied were {what} {who}: "
            f"{wrong[0].probe.description}",
            benchmark.namespace,
            details,
        )
    if not outcomes:
        reason = f"{len(controls)} request(s) admitted {who}"
    else:
        reason = (
            f"{len(outcomes)} request(s) denied {who}, after {len(controls)} admitted control(s)"
        )
    return passed(
        benchmark.tenant,
        benchmark.check,
        f"{benchmark.what}: {reason}".lstrip(": "),
        benchmark.namespace,
        details,
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


async def read_inventory(client: Client, source: str) -> Inventory:
    async def one(path: str, kind: str, optional: bool) -> list[Manifest]:
        try:
            items = await client.list_items(path)
        except NotFound:
            if optional:
                return []
            raise
        for item in items:
            item["kind"] = kind
        return items

    lists = await asyncio.gather(*(one(*entry) for entry in READ))
    return Inventory.of(source, (item for items in lists for item in items))


async def verify_cluster(
    tenantset: TenantSet | None,
    *,
    kubeconfig: Path | None,
    context: str | None,
    cluster_cidrs: Iterable[str] = (),
) -> Verification:
    connection = load_connection(kubeconfig, context)
    source = f"{connection.context} ({connection.server})"
    async with connect(connection) as client:
        inventory = await read_inventory(client, source)
    wanted = (
        expectations_module.from_tenantset(tenantset)
        if tenantset is not None
        else expectations_module.infer(inventory)
    )
    verification = verify_inventory(
        inventory,
        wanted,
        mode="live",
        cluster_cidrs=cluster_cidrs,
        builtin_roles=(),
        tenantset=tenantset,
    )
    sandbox_account = (
        tenantset.platform.sandbox_service_account
        if tenantset is not None
        else DEFAULT_SANDBOX_SERVICE_ACCOUNT
    )
    planned = benchmarks(inventory, wanted, sandbox_account)
    by_identity: dict[Identity, list[Benchmark]] = {}
    for benchmark in planned:
        by_identity.setdefault(benchmark.identity, []).append(benchmark)

    async def as_identity(identity: Identity, items: list[Benchmark]) -> list[Result]:
        async with connect(connection, identity, concurrency=8) as client:
            return list(await asyncio.gather(*(_run(client, b) for b in items)))

    gathered = await asyncio.gather(
        *(as_identity(identity, items) for identity, items in by_identity.items())
    )
    results = {
        id(b): r
        for items, rs in zip(by_identity.values(), gathered, strict=True)
        for b, r in zip(items, rs, strict=True)
    }
    verification.results.extend(results[id(b)] for b in planned)
    for tenant in wanted.tenants:
        if not any(b.tenant == tenant.name for b in planned):
            verification.results.append(
                failed(
                    tenant.name,
                    "mtb.identities",
                    "no admin or edit identity known for this tenant: the benchmark checks could "
                    "not run as it",
                )
            )
    return verification


def verify_live(
    tenantset: TenantSet | None,
    *,
    kubeconfig: Path | None = None,
    context: str | None = None,
    cluster_cidrs: Iterable[str] = (),
) -> Verification:
    return asyncio.run(
        verify_cluster(
            tenantset, kubeconfig=kubeconfig, context=context, cluster_cidrs=cluster_cidrs
        )
    )


async def _capture(kubeconfig: Path | None, context: str | None) -> str:
    connection = load_connection(kubeconfig, context)
    async with connect(connection) as client:
        version = (await client.get("/version")).get("gitVersion", "unknown")
        roles = []
        for name in BUILTIN_ROLE_NAMES:
            role = await client.get(f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}")
            meta = role["metadata"]
            roles.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRole",
                    "metadata": {
                        "name": meta["name"],
                        "labels": dict(sorted((meta.get("labels") or {}).items())),
                    },
                    **(
                        {"aggregationRule": role["aggregationRule"]}
                        if "aggregationRule" in role
                        else {}
                    ),
                    "rules": role.get("rules") or [],
                }
            )
    header = (
        f"# Built-in ClusterRoles of Kubernetes {version}, for `tenantctl verify` in static mode.\n"
        "# Captured from a live kube-apiserver with\n"
        "#   tenantctl verify --capture-builtin-roles FILE --kubeconfig K\n"
        "# (the aggregated roles admin/edit/view as the server's aggregation controller filled\n"
        "# them in, plus the system:aggregate-to-* roles they aggregate, so ClusterRoles in the\n"
        "# verified manifests that carry aggregate-to-* labels are added the same way).\n"
    )
    document = {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"kubernetesVersion": version},
        "items": roles,
    }
    return header + yaml.safe_dump(document, sort_keys=False)


def capture_builtin_roles(kubeconfig: Path | None, context: str | None) -> str:
    """The built-in ClusterRoles of a live cluster, as the static data file holds them."""
    return asyncio.run(_capture(kubeconfig, context))
