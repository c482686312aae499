"""Hypothesis strategies for valid TenantSets: random shapes the schema and semantics accept.

Built by construction rather than by filtering, so every drawn spec validates and the tests
spend their time rendering, not rejecting. The shapes cover what changes a rendering: tenant and
namespace counts, roles, budgets split across namespaces, per-level defaults, quotas, limits,
egress and ingress rules, same-tenant traffic, Istio agents, placement, service types, image
rules and both gateway flavours.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

LABEL_VALUES = st.sampled_from(["a", "b", "web", "agent-1", "x.y", "v2"])
LABEL_KEYS = st.sampled_from(["app", "app.kubernetes.io/name", "tier", "team"])
ENVIRONMENTS = st.sampled_from(["dev", "staging", "prod"])
CPU = st.sampled_from(["250m", "500m", "1", "2", "4"])
MEMORY = st.sampled_from(["256Mi", "512Mi", "1Gi", "2Gi", "4Gi"])


def _ports() -> st.SearchStrategy[list[dict[str, Any]]]:
    single = st.builds(lambda p: {"port": p}, st.integers(min_value=1, max_value=65535))
    ranged = st.builds(
        lambda p, span, proto: {"port": p, "endPort": p + span, "protocol": proto},
        st.integers(min_value=1, max_value=60000),
        st.integers(min_value=1, max_value=100),
        st.sampled_from(["TCP", "UDP"]),
    )
    return st.lists(st.one_of(single, ranged), min_size=1, max_size=2)


@st.composite
def _egress(draw: st.DrawFn, index: int) -> dict[str, Any]:
    octet = draw(st.integers(min_value=1, max_value=250))
    rule: dict[str, Any] = {"name": f"endpoint-{index}", "cidr": f"203.0.{octet}.0/24"}
    if draw(st.booleans()):
        rule["except"] = [f"203.0.{octet}.128/25"]
    if draw(st.booleans()):
        rule["ports"] = draw(_ports())
    return rule


@st.composite
def _ingress(draw: st.DrawFn, index: int) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "name": f"source-{index}",
        "namespace": draw(st.sampled_from(["istio-ingress", "ingress-nginx", "monitoring"])),
    }
    if draw(st.booleans()):
        rule["podLabels"] = draw(st.dictionaries(LABEL_KEYS, LABEL_VALUES, min_size=1, max_size=2))
    if draw(st.booleans()):
        rule["ports"] = draw(_ports())
    return rule


@st.composite
def _settings(draw: st.DrawFn, namespace_names: list[str]) -> dict[str, Any]:
    """Namespace settings, valid at any of the three levels."""
    settings: dict[str, Any] = {}
    if draw(st.booleans()):
        settings["podSecurity"] = {
            "enforce": draw(st.sampled_from(["privileged", "baseline", "restricted"])),
        }
    if draw(st.booleans()):
        settings["quota"] = {
            "objects": draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "pods": st.integers(min_value=1, max_value=100),
                        "secrets": st.integers(min_value=1, max_value=100),
                        "configmaps": st.integers(min_value=1, max_value=100),
                    },
                )
            )
        }
    network: dict[str, Any] = {}
    if draw(st.booleans()):
        network["allowSameTenant"] = draw(st.booleans())
    if draw(st.booleans()):
        network["egress"] = [
            draw(_egress(i)) for i in range(draw(st.integers(min_value=1, max_value=2)))
        ]
    if draw(st.booleans()):
        network["ingress"] = [
            draw(_ingress(i)) for i in range(draw(st.integers(min_value=1, max_value=2)))
        ]
    if network:
        settings["network"] = network
    if draw(st.booleans()):
        settings["placement"] = {
            "nodeSelector": {
                "topology.kubernetes.io/region": draw(
                    st.sampled_from(["eu-west-1", "us-east-1", "ap-south-1"])
                )
            }
        }
    if draw(st.booleans()):
        load_balancers = draw(st.booleans())
        settings["services"] = {"allowNodePort": False, "allowLoadBalancer": load_balancers}
        if load_balancers:  # semantics: the quota must allow what the services setting allows
            objects = settings.setdefault("quota", {}).setdefault("objects", {})
            objects["services.loadbalancers"] = 1
    if draw(st.booleans()):
        settings["images"] = {"requirePullAlways": draw(st.booleans())}
    if namespace_names and draw(st.booleans()):
        agent: dict[str, Any] = {
            "name": "agent",
            "selector": draw(st.dictionaries(LABEL_KEYS, LABEL_VALUES, min_size=1, max_size=2)),
        }
        if draw(st.booleans()):
            agent["ports"] = [draw(st.integers(min_value=1, max_value=65535))]
        agent["namespaces"] = draw(
            st.lists(st.sampled_from(namespace_names), min_size=1, max_size=2, unique=True)
        )
        settings["istio"] = {"enabled": True, "mtls": "STRICT", "agents": [agent]}
    return settings


@st.composite
def _roles(draw: st.DrawFn, tenant: str) -> dict[str, Any]:
    roles: dict[str, Any] = {"admin": {"groups": [f"{tenant}-admins"]}}
    if draw(st.booleans()):
        roles["edit"] = {"groups": [f"{tenant}-editors"]}
    if draw(st.booleans()):
        roles["view"] = {"users": [f"{tenant}-auditor@example.com"]}
    return roles


@st.composite
def tenantsets(draw: st.DrawFn) -> dict[str, Any]:
    """A TenantSet document (as parsed YAML) that validates."""
    tenant_count = draw(st.integers(min_value=1, max_value=3))
    tenants: list[dict[str, Any]] = []
    for t in range(tenant_count):
        name = f"team{t}"
        namespaces: list[dict[str, Any]] = []
        names = [f"{name}-ns{n}" for n in range(draw(st.integers(min_value=1, max_value=3)))]
        for ns_name in names:
            namespace: dict[str, Any] = {"name": ns_name}
            if draw(st.booleans()):
                namespace["environment"] = draw(ENVIRONMENTS)
            namespace.update(draw(_settings(names)))
            namespaces.append(namespace)
        tenant: dict[str, Any] = {
            "name": name,
            "owner": f"{name}@example.com",
            "roles": draw(_roles(name)),
            "namespaces": namespaces,
        }
        if draw(st.booleans()):
            tenant["budget"] = {"requests.cpu": str(2 * len(names)), "limits.memory": "64Gi"}
        if draw(st.booleans()):
            tenant["defaults"] = draw(_settings([]))
        tenants.append(tenant)

    defaults: dict[str, Any] = {
        "quota": {"compute": {"requests.cpu": "4", "limits.cpu": "8", "limits.memory": "16Gi"}},
        "limits": {
            "default": {"cpu": draw(st.sampled_from(["1", "2"])), "memory": draw(MEMORY)},
            "defaultRequest": {"cpu": draw(st.sampled_from(["100m", "250m"])), "memory": "128Mi"},
            "max": {"cpu": "4", "memory": "8Gi"},
        },
    }
    defaults.update(draw(_settings([])))
    gateway: dict[str, Any] = {"flavor": draw(st.sampled_from(["tenantctl", "openshell"]))}
    if gateway["flavor"] == "openshell":
        gateway.update({"namespace": "openshell", "serviceAccount": "openshell"})
        gateway["allowlist"] = {"source": draw(st.sampled_from(["label", "file"]))}
    return {
        "apiVersion": "tenantctl.dev/v1alpha1",
        "kind": "TenantSet",
        "metadata": {"name": draw(st.sampled_from(["fleet", "acme-agents", "x"]))},
        "spec": {
            "platform": {"gateway": gateway, "managers": {"groups": ["tenantctl-appliers"]}},
            "defaults": defaults,
            "tenants": tenants,
        },
    }
