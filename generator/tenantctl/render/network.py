"""NetworkPolicies: deny everything, then open exactly the paths a sandbox namespace needs.

Each tenant namespace denies all ingress and egress, then allows DNS (UDP and TCP 53 to the DNS
pods), the gateway pods on the gateway port (the sandbox supervisor dials out to the gateway), the
declared egress CIDRs (with the cluster's own networks carved out, ``spec/carving.py``),
declared ingress sources, the agent calls the Istio agent mapping declares,
and optionally the tenant's own other namespaces.

Namespaces are selected only by ``kubernetes.io/metadata.name``, which the API server sets and
nobody can change, so a tenant cannot relabel a namespace into another's allowlist. Where a peer
names both a namespace and pods, both selectors sit in one peer (AND), never in two (OR).
"""

from __future__ import annotations

from typing import Any

from tenantctl import labels
from tenantctl.render.meta import Manifest, manifest, metadata, ownership_labels
from tenantctl.spec import carving
from tenantctl.spec.model import Agent, Port, Tenant, TenantNamespace, TenantSet

NETWORK_API = "networking.k8s.io/v1"
ISTIO_CONTROL_PLANE_NAMESPACE = "istio-system"
ISTIOD_LABELS = {"app": "istiod"}
ISTIOD_XDS_PORT = 15012
# Istio ambient mode: ztunnel tunnels pod-to-pod traffic over HBONE to this port of the pod.
ISTIO_HBONE_PORT = 15008


def namespace_peer(names: list[str], pod_labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A peer in the named namespaces (and, if given, only pods with these labels)."""
    if len(names) == 1:
        selector: dict[str, Any] = {"matchLabels": {labels.NAMESPACE_NAME: names[0]}}
    else:
        selector = {
            "matchExpressions": [
                {"key": labels.NAMESPACE_NAME, "operator": "In", "values": sorted(names)}
            ]
        }
    peer: dict[str, Any] = {"namespaceSelector": selector}
    if pod_labels:
        peer["podSelector"] = {"matchLabels": dict(sorted(pod_labels.items()))}
    return peer


def _ports(ports: tuple[Port, ...]) -> list[dict[str, Any]]:
    rendered = []
    for port in ports:
        item: dict[str, Any] = {"protocol": port.protocol, "port": port.port}
        if port.end_port is not None:
            item["endPort"] = port.end_port
        rendered.append(item)
    return rendered


def _policy(
    tenantset: TenantSet,
    tenant: str | None,
    namespace: str,
    name: str,
    *,
    pod_selector: dict[str, str] | None = None,
    ingress: list[dict[str, Any]] | None = None,
    egress: list[dict[str, Any]] | None = None,
) -> Manifest:
    spec: dict[str, Any] = {
        "podSelector": {"matchLabels": dict(sorted(pod_selector.items()))} if pod_selector else {}
    }
    policy_types = []
    if ingress is not None:
        policy_types.append("Ingress")
    if egress is not None:
        policy_types.append("Egress")
    spec["policyTypes"] = policy_types
    if ingress:
        spec["ingress"] = ingress
    if egress:
        spec["egress"] = egress
    return manifest(
        NETWORK_API,
        "NetworkPolicy",
        metadata(name, ownership_labels(tenantset, tenant), namespace=namespace),
        spec=spec,
    )


def _rule(
    peers: list[dict[str, Any]], ports: list[dict[str, Any]], direction: str
) -> dict[str, Any]:
    rule: dict[str, Any] = {direction: peers}
    if ports:
        rule["ports"] = ports
    return rule


def agent_client_namespaces(agent: Agent) -> list[str]:
    """Namespaces allowed to call ``agent``: those listed plus those of its SPIFFE principals."""
    names = set(agent.namespaces)
    for principal in agent.principals:
        parts = principal.split("/")
        if len(parts) >= 5 and parts[1] == "ns":
            names.add(parts[2])
    return sorted(names)


AgentCalls = dict[str, list[tuple[str, Agent]]]


def agent_calls(tenantset: TenantSet) -> AgentCalls:
    """For each client namespace, the (namespace, agent) pairs it may call under the spec."""
    calls: AgentCalls = {}
    for target in tenantset.namespaces():
        if not target.istio.enabled:
            continue
        for agent in target.istio.agents:
            for client in agent_client_namespaces(agent):
                calls.setdefault(client, []).append((target.name, agent))
    return calls


def _mesh_ports(ports: tuple[int, ...], namespace: TenantNamespace) -> list[dict[str, Any]]:
    """TCP ``ports`` for agent traffic; in an ambient namespace also Istio's HBONE port, which
    ztunnel uses to carry the same calls between pods. No ports means all ports."""
    result = [{"protocol": "TCP", "port": port} for port in ports]
    if result and namespace.istio.enabled and namespace.istio.data_plane == "ambient":
        result.append({"protocol": "TCP", "port": ISTIO_HBONE_PORT})
    return result


def render_tenant_policies(
    tenantset: TenantSet, tenant: Tenant, namespace: TenantNamespace, calls: AgentCalls
) -> list[Manifest]:
    """The namespace's policies; ``calls`` is ``agent_calls(tenantset)``, computed once."""
    platform = tenantset.platform
    gateway = platform.gateway
    ns = namespace.name

    def policy(name: str, **kwargs: Any) -> Manifest:
        return _policy(tenantset, tenant.name, ns, name, **kwargs)

    policies = [
        policy("default-deny", ingress=[], egress=[]),
        policy(
            "allow-dns",
            egress=[
                _rule(
                    [namespace_peer([platform.dns_namespace], platform.dns_pod_labels)],
                    [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    "to",
                )
            ],
        ),
        policy(
            "allow-gateway",
            egress=[
                _rule(
                    [namespace_peer([gateway.namespace], gateway.pod_labels)],
                    [{"protocol": "TCP", "port": port} for port in gateway.ports],
                    "to",
                )
            ],
        ),
    ]
    for rule in namespace.egress:
        block: dict[str, Any] = {"cidr": rule.cidr}
        excepts = carving.carved_excepts(
            rule.cidr, rule.except_cidrs, tenantset.cluster_networks.all()
        )
        if excepts:
            block["except"] = excepts
        policies.append(
            policy(
                f"allow-egress-{rule.name}",
                egress=[_rule([{"ipBlock": block}], _ports(rule.ports), "to")],
            )
        )
    if namespace.allow_same_tenant and len(tenant.namespaces) > 1:
        siblings = [other.name for other in tenant.namespaces if other.name != ns]
        peer = namespace_peer(siblings)
        policies.append(
            policy(
                "allow-same-tenant",
                ingress=[_rule([peer], [], "from")],
                egress=[_rule([peer], [], "to")],
            )
        )
    for source in namespace.ingress:
        policies.append(
            policy(
                f"allow-ingress-{source.name}",
                ingress=[
                    _rule(
                        [namespace_peer([source.namespace], source.pod_labels)],
                        _ports(source.ports),
                        "from",
                    )
                ],
            )
        )
    for agent in namespace.istio.agents if namespace.istio.enabled else ():
        policies.append(
            policy(
                f"allow-agent-{agent.name}",
                pod_selector=agent.selector,
                ingress=[
                    _rule(
                        [namespace_peer(agent_client_namespaces(agent))],
                        _mesh_ports(agent.ports, namespace),
                        "from",
                    )
                ],
            )
        )
    if calls.get(ns):
        policies.append(
            policy(
                "allow-agent-calls",
                egress=[
                    _rule(
                        [namespace_peer([target], agent.selector)],
                        _mesh_ports(agent.ports, namespace),
                        "to",
                    )
                    for target, agent in calls[ns]
                ],
            )
        )
    if namespace.istio.enabled and namespace.istio.sidecar_injection:
        policies.append(
            policy(
                "allow-istiod",
                egress=[
                    _rule(
                        [namespace_peer([ISTIO_CONTROL_PLANE_NAMESPACE], ISTIOD_LABELS)],
                        [{"protocol": "TCP", "port": ISTIOD_XDS_PORT}],
                        "to",
                    )
                ],
            )
        )
    return policies


GATEWAY_INGRESS_POLICY = "tenantctl-allow-tenant-namespaces"


def gateway_ingress_policy_name(spec_id: str) -> str:
    """Per spec: several specs may share a gateway, each admitting its own namespaces."""
    return f"{GATEWAY_INGRESS_POLICY}-{spec_id}"


def render_gateway_ingress_policy(tenantset: TenantSet) -> Manifest:
    """In the gateway namespace: admit every tenant namespace on the gateway's ports only."""
    gateway = tenantset.platform.gateway
    names = [ns.name for ns in tenantset.namespaces()]
    return _policy(
        tenantset,
        None,
        gateway.namespace,
        gateway_ingress_policy_name(tenantset.spec_id),
        pod_selector=gateway.pod_labels,
        ingress=[
            _rule(
                [namespace_peer(names)],
                [{"protocol": "TCP", "port": port} for port in gateway.ports],
                "from",
            )
        ],
    )
