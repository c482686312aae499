"""Live verification: read the cluster, prove statically, then ask it as every tenant identity.

1. Read every object the static checks need from the API server (as the kubeconfig identity)
   and run the same analysis as ``tenantctl verify SPEC`` on it, with the cluster's own
   ClusterRoles (aggregation already resolved by the server) instead of the captured ones.
2. Run the Multi-Tenancy Benchmark checks planned by ``mtb`` (including access checks for every
   ordered pair of tenants) as each tenant identity, through impersonation, one session per
   identity; ``probes`` sends positive controls before denials and judges the answers.

Every request that could change anything carries ``dryRun=All`` (``probes.send`` insists), so
nothing is created, changed or left behind. ``capture_builtin_roles`` writes static mode's data
file from a live API server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

import yaml

from tenantctl import interrupts, labels
from tenantctl.kube.client import Client
from tenantctl.kube.errors import NotFound
from tenantctl.spec.model import TenantSet
from tenantctl.verify import expectations as expectations_module
from tenantctl.verify import mtb, probes
from tenantctl.verify.kubeclient import Identity, connect, load_connection
from tenantctl.verify.manifests import Inventory, Manifest
from tenantctl.verify.results import Result, Verification, failed
from tenantctl.verify.static import verify_inventory

# (path of the cluster-wide LIST, kind, whether the API may be absent)
READ = (
    ("/api/v1/namespaces", "Namespace", False),
    ("/api/v1/pods", "Pod", False),
    ("/apis/networking.k8s.io/v1/networkpolicies", "NetworkPolicy", False),
    ("/api/v1/services", "Service", False),
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
    # Only those of a tenantctl spec (the admission policies' parameters among them); by the
    # spec label, which Helm installs keep (they rewrite managed-by).
    ("/api/v1/configmaps", "ConfigMap", False),
)
SPEC_SELECTOR = labels.SPEC_ID
BUILTIN_ROLE_NAMES = (
    "admin",
    "edit",
    "view",
    "cluster-admin",
    "system:aggregate-to-admin",
    "system:aggregate-to-edit",
    "system:aggregate-to-view",
)
DEFAULT_SANDBOX_SERVICE_ACCOUNT = "openshell-sandbox"


async def read_inventory(client: Client, source: str) -> Inventory:
    async def one(path: str, kind: str, optional: bool) -> list[Manifest]:
        try:
            # Of pods only their labels matter: list metadata, not whole specs.
            items = await client.list_items(
                path,
                metadata_only=kind == "Pod",
                label_selector=SPEC_SELECTOR if kind == "ConfigMap" else None,
            )
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
    planned = mtb.benchmarks(inventory, wanted, sandbox_account)
    by_identity: dict[Identity, list[probes.Benchmark]] = {}
    for benchmark in planned:
        by_identity.setdefault(benchmark.identity, []).append(benchmark)

    async def as_identity(identity: Identity, items: list[probes.Benchmark]) -> list[Result]:
        async with connect(connection, identity, concurrency=8) as client:
            return list(await asyncio.gather(*(probes.run(client, b) for b in items)))

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
        # A tenant with no namespace here (a fleet's other cluster) has nothing to act on.
        if tenant.namespaces and not any(b.tenant == tenant.name for b in planned):
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
    return interrupts.run(
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
    return interrupts.run(_capture(kubeconfig, context))
