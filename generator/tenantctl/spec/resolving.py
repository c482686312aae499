"""Turn a schema-valid spec document into the resolved model.

Namespace settings come in layers: built-in defaults, ``spec.defaults``, the tenant's
``defaults``, then the namespace itself. Mappings merge key by key and lists replace, so a
namespace can change one quota value without restating the rest, and can replace an egress list
outright. ``SettingLayers`` also answers *where* an effective value was written, so semantic checks
can point at the right line.

A tenant ``budget`` is split here: each budget key goes, in equal shares, to the namespaces that
do not set that key at tenant or namespace level (``spec.defaults`` values for budget keys yield
to the split). Whether the result fits the budget is a semantic check, not this module's job.
The ``sandboxes`` budget key is an object count: it is split in whole sandboxes (rounded down)
into ``quota.objects.sandboxes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tenantctl.spec import model
from tenantctl.spec.paths import Path
from tenantctl.spec.quantities import QuantityError, format_share, parse_quantity
from tenantctl.spec.reserved import WELL_KNOWN

SETTING_KEYS = (
    "podSecurity",
    "quota",
    "limits",
    "network",
    "istio",
    "placement",
    "services",
    "images",
)

BUILTIN_DEFAULTS: dict[str, Any] = {
    "podSecurity": {"enforce": "restricted"},
    "quota": {"compute": {}, "objects": {"services.nodeports": 0, "services.loadbalancers": 0}},
    "limits": {"default": {}, "defaultRequest": {}, "max": {}},
    "network": {"egress": [], "allowSameTenant": False, "ingress": []},
    "istio": {"enabled": False, "mtls": "STRICT", "dataPlane": "sidecar", "agents": []},
    "placement": {"nodeSelector": {}},
    "services": {"allowNodePort": False, "allowLoadBalancer": False},
    "images": {"requirePullAlways": True},
}


@dataclass(frozen=True)
class SettingLayers:
    """The settings layers of one namespace, most general first, with their document paths."""

    layers: tuple[tuple[dict[str, Any], Path], ...]

    def merged(self) -> dict[str, Any]:
        result: dict[str, Any] = BUILTIN_DEFAULTS
        for layer, _ in self.layers:
            result = _merged(result, _settings_in(layer))
        return result

    def origin(self, setting_path: Path) -> Path | None:
        """Document path where the effective value at ``setting_path`` was written, if anywhere."""
        for layer, layer_path in reversed(self.layers):
            node: Any = layer
            for part in setting_path:
                if isinstance(node, dict) and part in node:
                    node = node[part]
                else:
                    break
            else:
                return (*layer_path, *setting_path)
        return None


def _settings_in(layer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in layer.items() if k in SETTING_KEYS}


def _merged(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """A new mapping: ``overlay`` over ``base``. Inputs are shared, never modified."""
    result = dict(base)
    for key, value in overlay.items():
        current = result.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            result[key] = _merged(current, value)
        else:
            result[key] = value
    return result


SANDBOX_BUDGET_KEY = "sandboxes"


@dataclass(frozen=True)
class ResolvedNamespace:
    """One namespace's settings layers, merged settings and compute quota after the budget split."""

    layers: SettingLayers
    settings: dict[str, Any]
    compute: dict[str, str]
    sandboxes: int | None = None  # quota.objects.sandboxes after the budget split


def resolve_namespaces(data: dict[str, Any]) -> list[list[ResolvedNamespace]]:
    """Per tenant, per namespace, in spec order. Computed once, shared by checks and the model."""
    resolved = []
    # The merge folds the layers most general first, so what spec.defaults and a tenant's
    # defaults give is merged once, not once per namespace (``SettingLayers.merged`` per
    # namespace gives the same settings).
    spec_level: dict[str, Any] | None = None
    for tenant_index, tenant in enumerate(data["spec"]["tenants"]):
        layers = [
            namespace_layers(data, tenant_index, ns_index)
            for ns_index in range(len(tenant["namespaces"]))
        ]
        settings = []
        if layers:
            if spec_level is None:
                spec_level = _merged(BUILTIN_DEFAULTS, _settings_in(layers[0].layers[0][0]))
            tenant_level = _merged(spec_level, _settings_in(layers[0].layers[1][0]))
            settings = [
                _merged(tenant_level, _settings_in(ns_layers.layers[2][0])) for ns_layers in layers
            ]
        computes = split_budget(tenant.get("budget", {}), layers, settings)
        counts = split_sandbox_budget(tenant.get("budget", {}), layers, settings)
        resolved.append(
            [
                ResolvedNamespace(ns_layers, merged, compute, count)
                for ns_layers, merged, compute, count in zip(
                    layers, settings, computes, counts, strict=True
                )
            ]
        )
    return resolved


def namespace_layers(data: dict[str, Any], tenant_index: int, ns_index: int) -> SettingLayers:
    spec = data["spec"]
    tenant = spec["tenants"][tenant_index]
    return SettingLayers(
        (
            (spec.get("defaults", {}), ("spec", "defaults")),
            (tenant.get("defaults", {}), ("spec", "tenants", tenant_index, "defaults")),
            (
                tenant["namespaces"][ns_index],
                ("spec", "tenants", tenant_index, "namespaces", ns_index),
            ),
        )
    )


def split_budget(
    budget: dict[str, Any], layers: list[SettingLayers], settings: list[dict[str, Any]]
) -> list[dict[str, str]]:
    """Per-namespace compute quota of one tenant after its budget is split.

    ``layers`` and ``settings`` are the tenant's namespaces' layers and merged settings.
    """
    computes = [{k: str(v) for k, v in merged["quota"]["compute"].items()} for merged in settings]
    for key, budget_value in budget.items():
        if key == SANDBOX_BUDGET_KEY:
            continue  # an object count: split_sandbox_budget
        # A namespace sets the key itself when the tenant's defaults or the namespace wrote it.
        own = [
            key in compute and _set_below_spec_defaults(ns_layers, ("quota", "compute", key))
            for compute, ns_layers in zip(computes, layers, strict=True)
        ]
        takers = [i for i, is_own in enumerate(own) if not is_own]
        if not takers:
            continue
        try:
            total = parse_quantity(budget_value)
            used = sum(
                (parse_quantity(computes[i][key]) for i, is_own in enumerate(own) if is_own),
                Decimal(0),
            )
        except QuantityError:
            continue  # reported by the semantic checks
        share = format_share(max(total - used, Decimal(0)), len(takers), str(budget_value))
        for index in takers:
            computes[index][key] = share
    return computes


def split_sandbox_budget(
    budget: dict[str, Any], layers: list[SettingLayers], settings: list[dict[str, Any]]
) -> list[int | None]:
    """Per-namespace sandbox count of one tenant: explicit counts, then equal whole shares."""
    counts: list[int | None] = [
        merged["quota"]["objects"].get(SANDBOX_BUDGET_KEY) for merged in settings
    ]
    total = budget.get(SANDBOX_BUDGET_KEY)
    if total is None:
        return counts
    path = ("quota", "objects", SANDBOX_BUDGET_KEY)
    own = [_set_below_spec_defaults(ns_layers, path) for ns_layers in layers]
    takers = [i for i, is_own in enumerate(own) if not is_own]
    if takers:
        used = sum(int(counts[i] or 0) for i, is_own in enumerate(own) if is_own)
        share = max(int(total) - used, 0) // len(takers)
        for index in takers:
            counts[index] = share
    return counts


def _set_below_spec_defaults(layers: SettingLayers, setting_path: Path) -> bool:
    origin = layers.origin(setting_path)
    return origin is not None and origin[:2] != ("spec", "defaults")


def build_model(
    data: dict[str, Any], resolved: list[list[ResolvedNamespace]]
) -> model.TenantSet:
    spec = data["spec"]
    platform = _platform(spec["platform"])
    tenants = []
    for tenant, tenant_namespaces in zip(spec["tenants"], resolved, strict=True):
        namespaces = tuple(
            _namespace(tenant["name"], raw_ns, ns.settings, ns.compute, ns.sandboxes)
            for raw_ns, ns in zip(tenant["namespaces"], tenant_namespaces, strict=True)
        )
        roles = tenant.get("roles", {})
        tenants.append(
            model.Tenant(
                name=tenant["name"],
                display_name=tenant.get("displayName"),
                owner=tenant["owner"],
                contact=tenant.get("contact"),
                cost_center=tenant.get("costCenter"),
                roles={
                    role: model.Subjects(
                        groups=tuple(roles[role].get("groups", ())),
                        users=tuple(roles[role].get("users", ())),
                    )
                    for role in model.ROLES
                    if role in roles
                },
                budget={k: str(v) for k, v in tenant.get("budget", {}).items()},
                namespaces=namespaces,
                gateway_service_account=tenant.get("gateway", {}).get("serviceAccount"),
            )
        )
    networks = spec.get("clusterNetworks", {})
    return model.TenantSet(
        spec_id=data["metadata"]["name"],
        platform=platform,
        tenants=tuple(tenants),
        cluster_networks=model.ClusterNetworks(
            pods=tuple(networks.get("pods", ())), services=tuple(networks.get("services", ()))
        ),
    )


def _platform(raw: dict[str, Any]) -> model.Platform:
    gateway = raw["gateway"]
    allowlist = gateway.get("allowlist", {})
    controller = raw.get("controller", {})
    dns = raw.get("dns", {})
    managers = raw.get("managers", {})
    return model.Platform(
        gateway=model.Gateway(
            flavor=gateway.get("flavor", "tenantctl"),
            id=gateway.get("id", "default"),
            namespace=gateway.get("namespace", "tenantctl-system"),
            service_account=gateway.get("serviceAccount", "sandbox-gateway"),
            pod_labels=dict(
                gateway.get("podLabels", {"app.kubernetes.io/name": "sandbox-gateway"})
            ),
            port=gateway.get("port", 8080),
            allowlist=model.Allowlist(
                source=allowlist.get("source", "label"),
                label=allowlist.get("label", "openshell.ai/workspace"),
                config_map=allowlist.get("configMap", "openshell-workspaces"),
                mount_path=allowlist.get("mountPath", "/etc/openshell/workspaces"),
                deployment=allowlist.get("deployment", "openshell"),
            ),
            grpc_port=(
                gateway.get("grpcPort", 50051) or None
                if gateway.get("flavor", "tenantctl") == "tenantctl"
                else None
            ),
        ),
        controller=model.ServiceAccountRef(
            controller.get("namespace", "agent-sandbox-system"),
            controller.get("serviceAccount", "agent-sandbox-controller"),
        ),
        sandbox_service_account=raw.get("sandboxServiceAccount", "openshell-sandbox"),
        dns_namespace=dns.get("namespace", "kube-system"),
        dns_pod_labels=dict(dns.get("podLabels", {"k8s-app": "kube-dns"})),
        managers=model.Managers(
            users=tuple(managers.get("users", ())),
            groups=tuple(managers.get("groups", ())),
            service_accounts=tuple(
                model.ServiceAccountRef(sa["namespace"], sa["name"])
                for sa in managers.get("serviceAccounts", ())
            ),
        ),
        allowed_cluster_roles=tuple(raw.get("allowedClusterRoles", ("admin", "edit", "view"))),
        reserved_namespaces=tuple(raw.get("reservedNamespaces", WELL_KNOWN)),
    )


def _ports(raw: list[dict[str, Any]] | None) -> tuple[model.Port, ...]:
    return tuple(
        model.Port(port=p["port"], protocol=p.get("protocol", "TCP"), end_port=p.get("endPort"))
        for p in raw or ()
    )


def _namespace(
    tenant: str,
    raw: dict[str, Any],
    settings: dict[str, Any],
    compute: dict[str, str],
    sandboxes: int | None = None,
) -> model.TenantNamespace:
    pod_security = settings["podSecurity"]
    enforce = pod_security["enforce"]
    network = settings["network"]
    istio = settings["istio"]
    limits = settings["limits"]
    return model.TenantNamespace(
        name=raw["name"],
        tenant=tenant,
        environment=raw.get("environment"),
        pod_security=model.PodSecurity(
            enforce=enforce,
            audit=pod_security.get("audit", "restricted"),
            warn=pod_security.get("warn", enforce),
        ),
        compute_quota=compute,
        object_quota={
            **{k: int(v) for k, v in settings["quota"]["objects"].items()},
            **({SANDBOX_BUDGET_KEY: sandboxes} if sandboxes is not None else {}),
        },
        limit_default=_strings(limits["default"]),
        limit_default_request=_strings(limits["defaultRequest"]),
        limit_max=_strings(limits["max"]),
        egress=tuple(
            model.EgressRule(
                name=rule["name"],
                cidr=rule["cidr"],
                except_cidrs=tuple(rule.get("except", ())),
                ports=_ports(rule.get("ports")),
            )
            for rule in network["egress"]
        ),
        allow_same_tenant=network["allowSameTenant"],
        ingress=tuple(
            model.IngressSource(
                name=source["name"],
                namespace=source["namespace"],
                pod_labels=dict(source.get("podLabels", {})),
                ports=_ports(source.get("ports")),
            )
            for source in network["ingress"]
        ),
        istio=model.Istio(
            enabled=istio["enabled"],
            mtls=istio["mtls"],
            sidecar_injection=istio["enabled"] and istio["dataPlane"] == "sidecar",
            agents=tuple(
                model.Agent(
                    name=agent["name"],
                    selector=dict(agent["selector"]),
                    ports=tuple(agent.get("ports", ())),
                    principals=tuple(agent.get("principals", ())),
                    namespaces=tuple(agent.get("namespaces", ())),
                )
                for agent in istio["agents"]
            ),
            data_plane=istio["dataPlane"],
        ),
        node_selector=dict(settings["placement"]["nodeSelector"]),
        allow_nodeport=settings["services"]["allowNodePort"],
        allow_loadbalancer=settings["services"]["allowLoadBalancer"],
        require_pull_always=settings["images"]["requirePullAlways"],
    )


def _strings(mapping: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in mapping.items()}
