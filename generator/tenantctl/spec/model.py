"""The resolved tenant spec: what renderers, policies, the gateway and verify work from.

Defaults are already merged into every namespace and tenant budgets already split, so nothing
downstream needs to know about layering. All objects are frozen; mappings are plain dicts that
nobody mutates after resolution (renderers copy before they embed them in manifests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Flavor = Literal["tenantctl", "openshell"]
PodSecurityLevel = Literal["privileged", "baseline", "restricted"]
Role = Literal["admin", "edit", "view"]
ROLES: tuple[Role, ...] = ("admin", "edit", "view")


@dataclass(frozen=True)
class Allowlist:
    source: Literal["label", "file"]
    label: str
    config_map: str
    mount_path: str
    deployment: str


@dataclass(frozen=True)
class Gateway:
    flavor: Flavor
    id: str
    namespace: str
    service_account: str
    pod_labels: dict[str, str]
    port: int
    allowlist: Allowlist
    grpc_port: int | None = None  # tenantctl flavor: OpenShell's gRPC API (--grpc-port)

    @property
    def ports(self) -> list[int]:
        """Every TCP port tenant namespaces reach the gateway pods on, in order."""
        return sorted({self.port, *([self.grpc_port] if self.grpc_port else [])})


@dataclass(frozen=True)
class ServiceAccountRef:
    namespace: str
    name: str

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"


@dataclass(frozen=True)
class Managers:
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    service_accounts: tuple[ServiceAccountRef, ...] = ()


@dataclass(frozen=True)
class Platform:
    gateway: Gateway
    controller: ServiceAccountRef
    sandbox_service_account: str
    dns_namespace: str
    dns_pod_labels: dict[str, str]
    managers: Managers
    allowed_cluster_roles: tuple[str, ...]
    # Well-known platform namespaces no tenant may own (tenantctl.spec.reserved).
    reserved_namespaces: tuple[str, ...] = ()

    @property
    def gateway_identity(self) -> ServiceAccountRef:
        return ServiceAccountRef(self.gateway.namespace, self.gateway.service_account)


@dataclass(frozen=True)
class Port:
    port: int
    protocol: str = "TCP"
    end_port: int | None = None


@dataclass(frozen=True)
class EgressRule:
    name: str
    cidr: str
    except_cidrs: tuple[str, ...] = ()
    ports: tuple[Port, ...] = ()


@dataclass(frozen=True)
class IngressSource:
    name: str
    namespace: str
    pod_labels: dict[str, str] = field(default_factory=dict)
    ports: tuple[Port, ...] = ()


@dataclass(frozen=True)
class Agent:
    name: str
    selector: dict[str, str]
    ports: tuple[int, ...] = ()
    principals: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class PodSecurity:
    enforce: PodSecurityLevel
    audit: PodSecurityLevel
    warn: PodSecurityLevel


@dataclass(frozen=True)
class Istio:
    enabled: bool
    mtls: Literal["STRICT", "PERMISSIVE"]
    # True when the namespace's workloads get sidecars (data_plane "sidecar" and enabled).
    sidecar_injection: bool
    agents: tuple[Agent, ...]
    data_plane: Literal["sidecar", "ambient"] = "sidecar"


@dataclass(frozen=True)
class TenantNamespace:
    name: str
    tenant: str
    environment: str | None
    pod_security: PodSecurity
    compute_quota: dict[str, str]
    # Object counts by the spec's key; "sandboxes" renders as count/sandboxes.agents.x-k8s.io.
    object_quota: dict[str, int]
    limit_default: dict[str, str]
    limit_default_request: dict[str, str]
    limit_max: dict[str, str]
    egress: tuple[EgressRule, ...]
    allow_same_tenant: bool
    ingress: tuple[IngressSource, ...]
    istio: Istio
    node_selector: dict[str, str]
    allow_nodeport: bool
    allow_loadbalancer: bool
    require_pull_always: bool


@dataclass(frozen=True)
class Subjects:
    groups: tuple[str, ...] = ()
    users: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tenant:
    name: str
    display_name: str | None
    owner: str
    contact: str | None
    cost_center: str | None
    roles: dict[Role, Subjects]
    budget: dict[str, str]
    namespaces: tuple[TenantNamespace, ...]
    # The ServiceAccount of the tenant's own gateway, in the gateway namespace (tenants[].gateway).
    gateway_service_account: str | None = None


@dataclass(frozen=True)
class ClusterNetworks:
    """The cluster's pod and Service address ranges (``spec.clusterNetworks``), as CIDRs."""

    pods: tuple[str, ...] = ()
    services: tuple[str, ...] = ()

    def all(self) -> tuple[str, ...]:
        return (*self.pods, *self.services)


@dataclass(frozen=True)
class TenantSet:
    spec_id: str
    platform: Platform
    tenants: tuple[Tenant, ...]
    fleet: Fleet | None = None
    cluster_networks: ClusterNetworks = field(default_factory=ClusterNetworks)

    def namespaces(self) -> list[TenantNamespace]:
        return [ns for tenant in self.tenants for ns in tenant.namespaces]

    def tenant_of(self, namespace: TenantNamespace) -> Tenant:
        return next(t for t in self.tenants if t.name == namespace.tenant)

    def gateway_identities(self) -> list[ServiceAccountRef]:
        """The shared gateway's account, then each tenant gateway's (spec order)."""
        namespace = self.platform.gateway.namespace
        return [
            self.platform.gateway_identity,
            *(
                ServiceAccountRef(namespace, t.gateway_service_account)
                for t in self.tenants
                if t.gateway_service_account
            ),
        ]


# --- a fleet: several clusters, each tenant namespace on exactly one (spec/placement.py) -------


@dataclass(frozen=True)
class Cluster:
    name: str
    labels: dict[str, str]
    # The kubeconfig context that reaches this cluster, when the spec maps one.
    context: str | None = None


@dataclass(frozen=True)
class Fleet:
    clusters: tuple[Cluster, ...]
    # Namespace name -> cluster name, for every tenant namespace of the spec.
    placement: dict[str, str]

    def names(self) -> list[str]:
        return [cluster.name for cluster in self.clusters]

    def cluster_for_context(self, context: str) -> Cluster | None:
        return next((c for c in self.clusters if c.context == context), None)
