"""What should be true: the allowed connections, identities and agents, from the spec or inferred.

With a spec, every expectation comes from the resolved ``TenantSet``: the same functions the
renderers use (``render.network.agent_calls``) decide which agent calls are meant, so verify
judges the output against the intent rather than against itself.

Without a spec (``--manifests DIR`` alone, or ``--live`` without SPEC) the tenantctl conventions
stand in: tenants are the Namespaces labelled ``tenantctl.dev/tenant-namespace``, grouped by
``tenantctl.dev/tenant``; their identities are the subjects of the RoleBindings tenantctl itself
manages there; DNS is ``kube-system`` pods ``k8s-app=kube-dns``; the gateway is whatever the
binding to ``tenantctl-gateway-read`` and the ``tenantctl-allow-tenant-namespaces(-<spec id>)``
policy name. Allowed connections are then DNS, the gateway, and a tenant's own namespaces;
everything else between tenants is a failure because nothing says it was meant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tenantctl import labels
from tenantctl.render import network as render_network
from tenantctl.render import rbac as render_rbac
from tenantctl.selectors import EVERYTHING, Selector
from tenantctl.spec.model import Port, TenantSet
from tenantctl.verify.manifests import Inventory, Manifest, name_of, namespace_of
from tenantctl.verify.ports import ALL_PORTS, PortRange, PortSet

DEFAULT_DNS_NAMESPACE = "kube-system"
DEFAULT_DNS_LABELS = {"k8s-app": "kube-dns"}
DNS_PORTS = PortSet.of([PortRange("UDP", 53, 53), PortRange("TCP", 53, 53)])
DEFAULT_GATEWAY_NAMESPACE = "tenantctl-system"
DEFAULT_GATEWAY_LABELS = {labels.NAME: "sandbox-gateway"}
DEFAULT_GATEWAY_PORT = 8080
GATEWAY_INGRESS_POLICY = "tenantctl-allow-tenant-namespaces"
# Groups every identity is in (``system:unauthenticated``: anyone who sends no credentials,
# tenants included): a grant to them is a grant to every tenant.
EVERYONE_GROUPS = frozenset(
    {"system:authenticated", "system:unauthenticated", "system:serviceaccounts"}
)
# Without a spec: agent-sandbox's controller, as the spec defaults it (spec/resolving.py).
DEFAULT_CONTROLLER = ("agent-sandbox-system", "agent-sandbox-controller")
# Kubernetes' superuser group: binding it grants nothing it does not already have.
SUPERUSER_GROUP = "system:masters"


@dataclass(frozen=True)
class Endpoint:
    namespace: str
    pods: Selector = EVERYTHING

    def __str__(self) -> str:
        return self.namespace if self.pods.is_empty() else f"{self.namespace}/{self.pods}"


@dataclass(frozen=True)
class Allowance:
    """A connection the spec means to allow. ``sources`` None: any non-tenant namespace.

    ``required``: the spec declares this path, so the manifests must give it to every pod
    ``source_pods`` selects (``network.declared-paths``); otherwise it is only permitted."""

    reason: str
    sources: frozenset[str] | None
    destinations: frozenset[str]
    ports: PortSet
    source_pods: Selector = EVERYTHING
    destination_pods: Selector = EVERYTHING
    required: bool = False


@dataclass(frozen=True)
class ExternalAllowance:
    namespace: str
    name: str
    cidr: str
    except_cidrs: tuple[str, ...]
    ports: PortSet


@dataclass(frozen=True)
class AgentExpectation:
    namespace: str
    name: str
    selector: Selector
    ports: frozenset[int]
    principals: frozenset[str]
    namespaces: frozenset[str]


@dataclass(frozen=True)
class TenantExpectation:
    name: str
    namespaces: tuple[str, ...]
    groups: frozenset[str]
    users: frozenset[str]
    # role -> (groups, users), only known from a spec.
    roles: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Expectations:
    from_spec: bool
    tenants: tuple[TenantExpectation, ...]
    dns: Endpoint
    gateway: Endpoint
    gateway_port: int
    allowances: tuple[Allowance, ...]
    # None: no spec, so external egress is listed but not judged.
    external: dict[str, tuple[ExternalAllowance, ...]] | None
    agents: tuple[AgentExpectation, ...] | None
    allowed_cluster_roles: frozenset[str]
    platform_namespaces: frozenset[str]
    _tenant_of: dict[str, str] = field(default_factory=dict)
    # Subjects (as ``rbac`` names them: "Group g", "User u", "ServiceAccount ns/name") that
    # are the platform's: managers, the gateway, the controller.
    platform_subjects: frozenset[str] = frozenset()
    gateway_subject: str = ""
    # A tenant gateway's ServiceAccount (as ``rbac`` names it) -> the tenant it serves: it may
    # write Sandboxes in that tenant's namespaces and nowhere else.
    tenant_gateways: dict[str, str] = field(default_factory=dict)
    # Per tenant namespace: (NodePort allowed, LoadBalancer allowed). None: no spec, so the
    # Namespace annotations tenantctl renders from it say (labels.ALLOW_NODEPORT, ...).
    exposure: dict[str, tuple[bool, bool]] | None = None

    def tenant_of(self, namespace: str) -> str | None:
        return self._tenant_of.get(namespace)

    def tenant_namespaces(self) -> list[str]:
        return [ns for tenant in self.tenants for ns in tenant.namespaces]

    def tenant(self, name: str) -> TenantExpectation:
        return next(t for t in self.tenants if t.name == name)


def _ports(ports: tuple[Port, ...]) -> PortSet:
    if not ports:
        return ALL_PORTS
    return PortSet.of(PortRange(p.protocol, p.port, p.end_port or p.port) for p in ports)


def _tcp(ports: tuple[int, ...] | list[int]) -> PortSet:
    if not ports:
        return ALL_PORTS
    return PortSet.of(PortRange("TCP", p, p) for p in ports)


def _index(tenants: tuple[TenantExpectation, ...]) -> dict[str, str]:
    return {ns: tenant.name for tenant in tenants for ns in tenant.namespaces}


def _base_allowances(
    tenants: tuple[TenantExpectation, ...],
    dns: Endpoint,
    gateway: Endpoint,
    gateway_ports: list[int],
) -> list[Allowance]:
    everyone = frozenset(ns for tenant in tenants for ns in tenant.namespaces)
    return [
        Allowance(
            "DNS", everyone, frozenset([dns.namespace]), DNS_PORTS, destination_pods=dns.pods
        ),
        Allowance(
            "gateway",
            everyone,
            frozenset([gateway.namespace]),
            _tcp(gateway_ports),  # HTTP and OpenShell gRPC (platform.gateway.grpcPort)
            destination_pods=gateway.pods,
        ),
    ]


def from_tenantset(tenantset: TenantSet) -> Expectations:
    platform = tenantset.platform
    gateway = platform.gateway
    tenants = tuple(
        TenantExpectation(
            tenant.name,
            tuple(ns.name for ns in tenant.namespaces),
            frozenset(g for subjects in tenant.roles.values() for g in subjects.groups),
            frozenset(u for subjects in tenant.roles.values() for u in subjects.users),
            {role: (s.groups, s.users) for role, s in tenant.roles.items()},
        )
        for tenant in tenantset.tenants
    )
    dns = Endpoint(platform.dns_namespace, Selector.from_labels(platform.dns_pod_labels))
    gateway_endpoint = Endpoint(gateway.namespace, Selector.from_labels(gateway.pod_labels))
    allowances = _base_allowances(tenants, dns, gateway_endpoint, gateway.ports)
    external: dict[str, tuple[ExternalAllowance, ...]] = {}
    agents: list[AgentExpectation] = []
    for tenant in tenantset.tenants:
        names = [ns.name for ns in tenant.namespaces]
        for ns in tenant.namespaces:
            if ns.allow_same_tenant and len(names) > 1:
                siblings = frozenset(n for n in names if n != ns.name)
                allowances.append(
                    Allowance(
                        "same tenant", siblings, frozenset([ns.name]), ALL_PORTS, required=True
                    )
                )
                allowances.append(
                    Allowance(
                        "same tenant", frozenset([ns.name]), siblings, ALL_PORTS, required=True
                    )
                )
            for source in ns.ingress:
                allowances.append(
                    Allowance(
                        f"ingress source {source.name}",
                        frozenset([source.namespace]),
                        frozenset([ns.name]),
                        _ports(source.ports),
                        source_pods=Selector.from_labels(source.pod_labels),
                        required=True,
                    )
                )
            external[ns.name] = tuple(
                ExternalAllowance(
                    ns.name, rule.name, rule.cidr, rule.except_cidrs, _ports(rule.ports)
                )
                for rule in ns.egress
            )
            if ns.istio.enabled and ns.istio.sidecar_injection:
                allowances.append(
                    Allowance(
                        "istiod",
                        frozenset([ns.name]),
                        frozenset([render_network.ISTIO_CONTROL_PLANE_NAMESPACE]),
                        PortSet.single("TCP", render_network.ISTIOD_XDS_PORT),
                        destination_pods=Selector.from_labels(render_network.ISTIOD_LABELS),
                    )
                )
            if not ns.istio.enabled:
                continue
            for agent in ns.istio.agents:
                selector = Selector.from_labels(agent.selector)
                clients = frozenset(render_network.agent_client_namespaces(agent))
                agents.append(
                    AgentExpectation(
                        ns.name,
                        agent.name,
                        selector,
                        frozenset(agent.ports),
                        frozenset(agent.principals),
                        frozenset(agent.namespaces),
                    )
                )
                allowances.append(
                    Allowance(
                        f"agent {agent.name}",
                        clients,
                        frozenset([ns.name]),
                        _tcp(agent.ports),
                        destination_pods=selector,
                        required=True,
                    )
                )
    return Expectations(
        from_spec=True,
        tenants=tenants,
        dns=dns,
        gateway=gateway_endpoint,
        gateway_port=gateway.port,
        allowances=tuple(allowances),
        external=external,
        agents=tuple(agents),
        allowed_cluster_roles=frozenset(
            [
                *platform.allowed_cluster_roles,
                render_rbac.SANDBOX_USER_ROLE,
                render_rbac.SANDBOX_VIEWER_ROLE,
            ]
        ),
        platform_namespaces=frozenset(
            [platform.dns_namespace, gateway.namespace, platform.controller.namespace]
        ),
        _tenant_of=_index(tenants),
        platform_subjects=frozenset(
            [
                *(f"User {u}" for u in platform.managers.users),
                *(f"Group {g}" for g in (*platform.managers.groups, SUPERUSER_GROUP)),
                *(
                    f"ServiceAccount {a.namespace}/{a.name}"
                    for a in (
                        *platform.managers.service_accounts,
                        platform.gateway_identity,
                        platform.controller,
                    )
                ),
            ]
        ),
        gateway_subject=(
            f"ServiceAccount {platform.gateway_identity.namespace}/{platform.gateway_identity.name}"
        ),
        exposure={
            ns.name: (ns.allow_nodeport, ns.allow_loadbalancer) for ns in tenantset.namespaces()
        },
        tenant_gateways={
            f"ServiceAccount {gateway.namespace}/{t.gateway_service_account}": t.name
            for t in tenantset.tenants
            if t.gateway_service_account
        },
    )


def _managed_by_tenantctl(obj: Manifest) -> bool:
    return (obj["metadata"].get("labels") or {}).get(labels.MANAGED_BY) == labels.MANAGED_BY_VALUE


def infer(inventory: Inventory) -> Expectations:
    """Expectations from the tenantctl conventions, for manifests or a cluster without a spec."""
    by_tenant: dict[str, list[str]] = {}
    for name in inventory.namespace_names():
        found = inventory.namespace_labels(name)
        if found.get(labels.TENANT_NAMESPACE) == "true" or labels.TENANT in found:
            by_tenant.setdefault(found.get(labels.TENANT, name), []).append(name)
    tenant_of = {ns: tenant for tenant, names in by_tenant.items() for ns in names}

    groups: dict[str, set[str]] = {tenant: set() for tenant in by_tenant}
    users: dict[str, set[str]] = {tenant: set() for tenant in by_tenant}
    roles: dict[str, dict[str, tuple[set[str], set[str]]]] = {tenant: {} for tenant in by_tenant}
    managed_accounts: set[str] = set()
    for binding in inventory.of_kind("RoleBinding"):
        tenant = tenant_of.get(namespace_of(binding))
        if tenant is None or not _managed_by_tenantctl(binding):
            continue
        role_ref = binding.get("roleRef") or {}
        role = role_ref.get("name") if role_ref.get("kind") == "ClusterRole" else None
        for subject in binding.get("subjects") or []:
            kind, name = subject.get("kind"), subject.get("name")
            if kind == "ServiceAccount":
                # tenantctl binds ServiceAccounts only for the platform (the gateway).
                account_namespace = subject.get("namespace") or namespace_of(binding)
                managed_accounts.add(f"ServiceAccount {account_namespace}/{name}")
                continue
            if kind == "Group" and name not in EVERYONE_GROUPS:
                groups[tenant].add(name)
            elif kind == "User":
                users[tenant].add(name)
            else:
                continue
            if role in ("admin", "edit", "view"):
                pair = roles[tenant].setdefault(role, (set(), set()))
                pair[0 if kind == "Group" else 1].add(name)
    tenants = tuple(
        TenantExpectation(
            name,
            tuple(sorted(names)),
            frozenset(groups[name]),
            frozenset(users[name]),
            {
                role: (tuple(sorted(found_groups)), tuple(sorted(found_users)))
                for role, (found_groups, found_users) in sorted(roles[name].items())
            },
        )
        for name, names in sorted(by_tenant.items())
    )

    gateway_namespace = DEFAULT_GATEWAY_NAMESPACE
    gateway_subject = ""
    for binding in inventory.of_kind("ClusterRoleBinding"):
        # tenantctl-gateway-read-<spec id>: matched by the role it binds, whatever the spec.
        if (binding.get("roleRef") or {}).get("name") == render_rbac.GATEWAY_READ_ROLE:
            for subject in binding.get("subjects") or []:
                if subject.get("kind") == "ServiceAccount" and subject.get("namespace"):
                    gateway_namespace = subject["namespace"]
                    gateway_subject = f"ServiceAccount {gateway_namespace}/{subject.get('name')}"
    gateway_labels, gateway_port = DEFAULT_GATEWAY_LABELS, DEFAULT_GATEWAY_PORT
    gateway_ports: list[int] = []
    for policy in inventory.of_kind("NetworkPolicy"):
        name = name_of(policy)
        ours = name == GATEWAY_INGRESS_POLICY or name.startswith(f"{GATEWAY_INGRESS_POLICY}-")
        if ours and namespace_of(policy) == gateway_namespace:
            spec = policy.get("spec") or {}
            gateway_labels = (spec.get("podSelector") or {}).get("matchLabels") or gateway_labels
            for rule in spec.get("ingress") or []:
                for port in rule.get("ports") or []:
                    if isinstance(port.get("port"), int):
                        gateway_ports.append(port["port"])
    if gateway_ports:
        gateway_port = gateway_ports[0]
    dns = Endpoint(DEFAULT_DNS_NAMESPACE, Selector.from_labels(DEFAULT_DNS_LABELS))
    gateway = Endpoint(gateway_namespace, Selector.from_labels(gateway_labels))
    allowances = _base_allowances(tenants, dns, gateway, gateway_ports or [gateway_port])
    for expected in tenants:
        names = frozenset(expected.namespaces)
        allowances.append(Allowance("same tenant", names, names, ALL_PORTS))
    # A sidecar-injected namespace's proxies must reach istiod, as tenantctl renders it.
    injected = frozenset(
        name
        for name in tenant_of
        if inventory.namespace_labels(name).get(labels.ISTIO_INJECTION) == "enabled"
    )
    if injected:
        allowances.append(
            Allowance(
                "istiod",
                injected,
                frozenset([render_network.ISTIO_CONTROL_PLANE_NAMESPACE]),
                PortSet.single("TCP", render_network.ISTIOD_XDS_PORT),
                destination_pods=Selector.from_labels(render_network.ISTIOD_LABELS),
            )
        )
    allowances.append(
        Allowance(
            "from a platform namespace (no spec to compare with)",
            None,
            frozenset(tenant_of),
            ALL_PORTS,
        )
    )
    return Expectations(
        from_spec=False,
        tenants=tenants,
        dns=dns,
        gateway=gateway,
        gateway_port=gateway_port,
        allowances=tuple(allowances),
        external=None,
        agents=None,
        allowed_cluster_roles=frozenset(
            [
                "admin",
                "edit",
                "view",
                render_rbac.SANDBOX_USER_ROLE,
                render_rbac.SANDBOX_VIEWER_ROLE,
            ]
        ),
        platform_namespaces=frozenset([DEFAULT_DNS_NAMESPACE, gateway_namespace]),
        _tenant_of=tenant_of,
        platform_subjects=frozenset(
            [
                f"Group {SUPERUSER_GROUP}",
                f"ServiceAccount {DEFAULT_CONTROLLER[0]}/{DEFAULT_CONTROLLER[1]}",
                *([gateway_subject] if gateway_subject else []),
                *(a for a in managed_accounts if a.split(" ")[1].split("/")[0] not in tenant_of),
            ]
        ),
        gateway_subject=gateway_subject,
        tenant_gateways=_tenant_gateways(inventory),
    )


def _tenant_gateways(inventory: Inventory) -> dict[str, str]:
    """Tenant gateways, as the cluster-scoped review bindings tenantctl renders name them (a
    tenant cannot create those, so they are evidence a tenant's own binding is not)."""
    found: dict[str, str] = {}
    for binding in inventory.of_kind("ClusterRoleBinding"):
        tenant = (binding["metadata"].get("labels") or {}).get(labels.TENANT)
        if not name_of(binding).startswith(render_rbac.TENANT_GATEWAY_REVIEWS_PREFIX) or not tenant:
            continue
        for subject in binding.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount":
                found[f"ServiceAccount {subject.get('namespace')}/{subject.get('name')}"] = tenant
    return found
