"""Istio security for mesh-enabled namespaces: STRICT mTLS and who may call which agent.

The AuthorizationPolicy ``allow-nothing`` (an ALLOW policy with no rules) makes every workload in
the namespace deny by default; each agent then gets one ALLOW policy naming its clients. Principal
and namespace rules are only meaningful when the caller's identity comes from mTLS, which is why
the spec check insists on STRICT wherever agents are declared.
"""

from __future__ import annotations

from typing import Any

from tenantctl.render.meta import Manifest, manifest, metadata, ownership_labels
from tenantctl.spec.model import Tenant, TenantNamespace, TenantSet

SECURITY_API = "security.istio.io/v1"


def render_istio(
    tenantset: TenantSet, tenant: Tenant, namespace: TenantNamespace
) -> list[Manifest]:
    if not namespace.istio.enabled:
        return []
    owned = ownership_labels(tenantset, tenant.name)
    ns = namespace.name
    objects = [
        manifest(
            SECURITY_API,
            "PeerAuthentication",
            metadata("default", owned, namespace=ns),
            spec={"mtls": {"mode": namespace.istio.mtls}},
        ),
        manifest(
            SECURITY_API,
            "AuthorizationPolicy",
            metadata("allow-nothing", owned, namespace=ns),
            spec={},
        ),
    ]
    for agent in namespace.istio.agents:
        # Separate ``from`` entries are ORed; fields inside one ``source`` would be ANDed.
        sources: list[dict[str, Any]] = []
        if agent.principals:
            sources.append({"source": {"principals": list(agent.principals)}})
        if agent.namespaces:
            sources.append({"source": {"namespaces": list(agent.namespaces)}})
        rule: dict[str, Any] = {"from": sources}
        if agent.ports:
            rule["to"] = [{"operation": {"ports": [str(port) for port in agent.ports]}}]
        objects.append(
            manifest(
                SECURITY_API,
                "AuthorizationPolicy",
                metadata(f"allow-{agent.name}", owned, namespace=ns),
                spec={
                    "selector": {"matchLabels": dict(sorted(agent.selector.items()))},
                    "action": "ALLOW",
                    "rules": [rule],
                },
            )
        )
    return objects
