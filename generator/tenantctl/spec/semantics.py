"""Checks the JSON Schema cannot express: names, uniqueness, quantities, CIDRs, and rules that
span fields (quota needs LimitRange defaults, quotas must fit the tenant budget, Istio
AuthorizationPolicies need STRICT mTLS).

Runs only on schema-valid documents, so it may index fields the schema requires. Checks of
effective (merged) settings report at the line where the offending value was written, which may
be ``spec.defaults`` shared by many namespaces; identical problems collapse into one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, ParamSpec

from tenantctl.spec import carving, quotafit
from tenantctl.spec.loading import Finding
from tenantctl.spec.paths import Path
from tenantctl.spec.quantities import QuantityError, parse_quantity
from tenantctl.spec.reserved import WELL_KNOWN, reserved_problem
from tenantctl.spec.resolving import (
    SANDBOX_BUDGET_KEY,
    SETTING_KEYS,
    ResolvedNamespace,
    SettingLayers,
)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")

OPENSHELL_MAX_NAME = 19

# A compute quota key and the LimitRange entry that gives pods without resources a value for it.
# LimitRange applies ``default`` as the request too when ``defaultRequest`` is absent.
_QUOTA_NEEDS_LIMIT_DEFAULT = {
    "limits.cpu": (("default",), "cpu"),
    "limits.memory": (("default",), "memory"),
    "limits.ephemeral-storage": (("default",), "ephemeral-storage"),
    "requests.cpu": (("defaultRequest", "default"), "cpu"),
    "requests.memory": (("defaultRequest", "default"), "memory"),
    "requests.ephemeral-storage": (("defaultRequest", "default"), "ephemeral-storage"),
}


# What a check of a document the schema refused may run into where the shape is not the promised
# one; such a check is skipped and the schema's own problem stands for it.
_SHAPE_ERRORS = (KeyError, TypeError, AttributeError, IndexError, ValueError, ArithmeticError)

_P = ParamSpec("_P")


def check_semantics(
    data: dict[str, Any],
    resolved: list[list[ResolvedNamespace]] | None,
    *,
    tolerant: bool = False,
) -> list[Finding]:
    """Semantic findings. ``tolerant``: the schema refused ``data``; check what can be checked.

    ``resolved`` is None when the document could not be resolved; the checks of effective
    settings and budgets are then skipped.
    """
    checker = _Checker(data, resolved, tolerant=tolerant)
    checker.run()
    return list(dict.fromkeys(checker.findings))


class _Checker:
    def __init__(
        self,
        data: dict[str, Any],
        resolved: list[list[ResolvedNamespace]] | None,
        *,
        tolerant: bool = False,
    ) -> None:
        self.data = data
        self.resolved = resolved
        self.tolerant = tolerant
        self.findings: list[Finding] = []
        platform = _mapping(_mapping(data.get("spec")).get("platform"))
        self.gateway = _mapping(platform.get("gateway"))
        self.openshell = self.gateway.get("flavor", "tenantctl") == "openshell"
        self._well_known: list[str] | None = None
        self._limit_orders: dict[int, tuple[object, list[tuple[str, str, str]]]] = {}

    def add(self, path: Path, message: str, hint: str, *, at_value: bool = True) -> None:
        self.findings.append(Finding(path, message, hint, at_value))

    def guarded(self, check: Callable[_P, object], *args: _P.args, **kwargs: _P.kwargs) -> None:
        """Run ``check``; on a schema-refused document, skip it where the shape is wrong."""
        if not self.tolerant:
            check(*args, **kwargs)
            return
        with contextlib.suppress(*_SHAPE_ERRORS):
            check(*args, **kwargs)

    def check_metadata(self) -> None:
        self.check_dns_label(("metadata", "name"), self.data["metadata"]["name"])

    def run(self) -> None:
        self.guarded(self.check_metadata)
        self.guarded(self.check_platform)
        self.guarded(self.check_reserved_entries)
        self.guarded(self.check_cluster_networks)
        self.guarded(self.check_settings_blocks)
        self.guarded(self.check_tenants)

    # --- names ----------------------------------------------------------------------------------

    def check_dns_label(self, path: Path, value: str, *, max_length: int = 63) -> bool:
        if len(value) > max_length:
            self.add(
                path,
                f"{value!r} is {len(value)} characters long, over the limit of {max_length}",
                "use a shorter name",
            )
            return False
        if not _DNS_LABEL.match(value):
            self.add(
                path,
                f"{value!r} is not a valid DNS-1123 label",
                "use lower-case letters, digits and '-', starting and ending alphanumeric",
            )
            return False
        return True

    def check_subdomain(self, path: Path, value: str) -> None:
        if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
            self.add(
                path,
                f"{value!r} is not a valid DNS-1123 subdomain",
                "use lower-case letters, digits, '-' and '.'",
            )

    def check_label_map(self, path: Path, labels: dict[str, str]) -> None:
        for key, value in labels.items():
            if not _valid_label_key(key):
                self.add(
                    (*path, key),
                    f"{key!r} is not a valid label key",
                    "use [prefix/]name, the name at most 63 letters, digits, '-', '_', '.'",
                    at_value=False,
                )
            if not isinstance(value, str) or not _valid_label_value(value):
                self.add(
                    (*path, key),
                    f"{value!r} is not a valid label value",
                    "use at most 63 letters, digits, '-', '_', '.', alphanumeric at both ends",
                )

    # --- platform -------------------------------------------------------------------------------

    def check_platform(self) -> None:
        base: Path = ("spec", "platform")
        platform = self.data["spec"]["platform"]
        gateway = self.gateway
        for key in ("namespace",):
            if key in gateway:
                self.check_dns_label((*base, "gateway", key), gateway[key])
        for key in ("serviceAccount", "id"):
            if key in gateway:
                self.check_subdomain((*base, "gateway", key), gateway[key])
        if "podLabels" in gateway:
            self.check_label_map((*base, "gateway", "podLabels"), gateway["podLabels"])
            if not gateway["podLabels"]:
                self.add(
                    (*base, "gateway", "podLabels"),
                    "must not be empty: tenant egress would then reach every pod of the namespace",
                    "list the labels of the gateway pods",
                )
        allowlist = gateway.get("allowlist")
        if allowlist is not None and not self.openshell:
            self.add(
                (*base, "gateway", "allowlist"),
                "allowlist applies only to the openshell flavor",
                "remove it, or set flavor: openshell",
                at_value=False,
            )
        if allowlist and "label" in allowlist and not _valid_label_key(allowlist["label"]):
            self.add(
                (*base, "gateway", "allowlist", "label"),
                f"{allowlist['label']!r} is not a valid label key",
                "use a key such as openshell.ai/workspace",
            )
        controller = platform.get("controller", {})
        if "namespace" in controller:
            self.check_dns_label((*base, "controller", "namespace"), controller["namespace"])
        if "serviceAccount" in controller:
            self.check_subdomain(
                (*base, "controller", "serviceAccount"), controller["serviceAccount"]
            )
        if "sandboxServiceAccount" in platform:
            self.check_subdomain(
                (*base, "sandboxServiceAccount"), platform["sandboxServiceAccount"]
            )
        dns = platform.get("dns", {})
        if "namespace" in dns:
            self.check_dns_label((*base, "dns", "namespace"), dns["namespace"])
        if "podLabels" in dns:
            self.check_label_map((*base, "dns", "podLabels"), dns["podLabels"])
        managers = platform.get("managers", {})
        for index, account in enumerate(managers.get("serviceAccounts", [])):
            path = (*base, "managers", "serviceAccounts", index)
            self.check_dns_label((*path, "namespace"), account["namespace"])
            self.check_subdomain((*path, "name"), account["name"])
        for kind in ("users", "groups"):
            for index, name in enumerate(managers.get(kind, [])):
                self.check_one_line((*base, "managers", kind, index), name)
        for index, role in enumerate(platform.get("allowedClusterRoles", [])):
            self.check_one_line((*base, "allowedClusterRoles", index), role)
            if role == "cluster-admin":
                self.add(
                    (*base, "allowedClusterRoles", index),
                    "cluster-admin may never be bound in a tenant namespace",
                    "remove it; use admin for tenant administrators",
                )

    def well_known_namespaces(self) -> list[str]:
        if self._well_known is None:  # asked once per namespace; the document does not change
            platform = _mapping(_mapping(self.data.get("spec")).get("platform"))
            entries = platform.get("reservedNamespaces", WELL_KNOWN)
            self._well_known = [entry for entry in entries if isinstance(entry, str)]
        return self._well_known

    def check_reserved_entries(self) -> None:
        path: Path = ("spec", "platform", "reservedNamespaces")
        for index, entry in enumerate(self.data["spec"]["platform"].get("reservedNamespaces", [])):
            name = entry[:-1].rstrip("-") if entry.endswith("*") else entry
            if not name or not _DNS_LABEL.match(name):
                self.add(
                    (*path, index),
                    f"{entry!r} is neither a namespace name nor a prefix ending in '*'",
                    "write a namespace name such as argocd, or a prefix such as openshift-*",
                )

    def reserved_namespaces(self) -> dict[str, str]:
        platform = self.data["spec"]["platform"]
        reserved: dict[str, str] = {}
        reserved[self.gateway.get("namespace", "tenantctl-system")] = "the gateway's namespace"
        controller_ns = platform.get("controller", {}).get("namespace", "agent-sandbox-system")
        reserved[controller_ns] = "the agent-sandbox controller's namespace"
        reserved[platform.get("dns", {}).get("namespace", "kube-system")] = "the DNS namespace"
        return reserved

    # --- settings blocks, wherever they are written ---------------------------------------------

    def settings_blocks(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        spec = self.data["spec"]
        if "defaults" in spec:
            yield ("spec", "defaults"), spec["defaults"]
        for t_index, tenant in enumerate(spec["tenants"]):
            if "defaults" in tenant:
                yield ("spec", "tenants", t_index, "defaults"), tenant["defaults"]
            for n_index, namespace in enumerate(tenant["namespaces"]):
                yield ("spec", "tenants", t_index, "namespaces", n_index), namespace

    def check_settings_blocks(self) -> None:
        for path, block in self.settings_blocks():
            self.guarded(self.check_settings_block, path, block)

    def check_settings_block(self, path: Path, block: dict[str, Any]) -> None:
        settings = {key: block[key] for key in SETTING_KEYS if key in block}
        quota = settings.get("quota", {})
        network = settings.get("network", {})
        for check in (
            lambda: self.check_quantities((*path, "quota", "compute"), quota.get("compute", {})),
            lambda: self.check_limits((*path, "limits"), settings.get("limits", {})),
            lambda: self.check_egress((*path, "network", "egress"), network.get("egress", [])),
            lambda: self.check_ingress((*path, "network", "ingress"), network.get("ingress", [])),
            lambda: self.check_agents(
                (*path, "istio", "agents"), settings.get("istio", {}).get("agents", [])
            ),
            lambda: self.check_placement((*path, "placement"), settings.get("placement", {})),
        ):
            self.guarded(check)

    def check_quantities(self, path: Path, quantities: dict[str, Any]) -> None:
        for key, value in quantities.items():
            self.check_quantity((*path, key), value)

    def check_limits(self, path: Path, limits: dict[str, dict[str, Any]]) -> None:
        for group, resources in limits.items():
            self.check_quantities((*path, group), resources)

    def check_placement(self, path: Path, placement: dict[str, Any]) -> None:
        if "nodeSelector" in placement:
            self.check_label_map((*path, "nodeSelector"), placement["nodeSelector"])

    def check_quantity(self, path: Path, value: Any) -> Decimal | None:
        try:
            quantity = parse_quantity(value)
        except QuantityError as err:
            self.add(path, str(err), "write a quantity such as 500m, 2, 512Mi or 4Gi")
            return None
        if quantity < 0:
            self.add(path, f"{value!r} is negative", "write zero or a positive quantity")
            return None
        return quantity

    def check_ports(self, path: Path, ports: list[dict[str, Any]]) -> None:
        for index, port in enumerate(ports):
            if "endPort" in port and port["endPort"] < port["port"]:
                self.add(
                    (*path, index, "endPort"),
                    f"endPort {port['endPort']} is below port {port['port']}",
                    "make endPort the last port of the range, at least port",
                )

    def check_unique_names(self, path: Path, items: list[dict[str, Any]], what: str) -> None:
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            self.check_dns_label((*path, index, "name"), item["name"])
            if item["name"] in seen:
                self.add(
                    (*path, index, "name"),
                    f"{what} {item['name']!r} is listed twice "
                    f"(first at index {seen[item['name']]})",
                    "give each a distinct name",
                )
            seen.setdefault(item["name"], index)

    def check_egress(self, path: Path, rules: list[dict[str, Any]]) -> None:
        self.check_unique_names(path, rules, "egress rule")
        for index, rule in enumerate(rules):
            network = self.check_cidr((*path, index, "cidr"), rule["cidr"])
            for e_index, excluded in enumerate(rule.get("except", [])):
                inner = self.check_cidr((*path, index, "except", e_index), excluded)
                if (
                    network
                    and inner
                    and (
                        inner.version != network.version or not inner.subnet_of(network)  # type: ignore[arg-type]
                    )
                ):
                    self.add(
                        (*path, index, "except", e_index),
                        f"{excluded} is not inside {rule['cidr']}",
                        "list only ranges within cidr under except",
                    )
            if network is not None:
                self.check_not_in_cluster((*path, index, "cidr"), rule["cidr"])
            self.check_ports((*path, index, "ports"), rule.get("ports", []))

    def cluster_networks(self) -> list[str]:
        networks = _mapping(_mapping(self.data.get("spec")).get("clusterNetworks"))
        return [
            cidr
            for kind in ("pods", "services")
            for cidr in networks.get(kind, [])
            if isinstance(cidr, str) and _is_network(cidr)
        ]

    def check_cluster_networks(self) -> None:
        path: Path = ("spec", "clusterNetworks")
        networks = self.data["spec"].get("clusterNetworks", {})
        for kind in ("pods", "services"):
            for index, cidr in enumerate(networks.get(kind, [])):
                self.check_cidr((*path, kind, index), cidr)

    def check_not_in_cluster(self, path: Path, cidr: str) -> None:
        network = carving.inside(cidr, self.cluster_networks())
        if network is not None:
            self.add(
                path,
                f"{cidr} lies inside the cluster network {network}: the rule would reach other "
                "tenants' pods or Services, and cannot be carved out",
                "allow in-cluster traffic with network.ingress, allowSameTenant or Istio agents",
            )

    def check_cidr(
        self, path: Path, value: object
    ) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        if not isinstance(value, str):
            # A spec the schema refused: ipaddress would read true or 7 as an address.
            self.add(path, f"{value!r} is not a CIDR", "write an address range such as 10.0.0.0/8")
            return None
        try:
            return ipaddress.ip_network(value, strict=True)
        except ValueError:
            try:
                fixed = ipaddress.ip_network(value, strict=False)
            except ValueError:
                self.add(
                    path, f"{value!r} is not a CIDR", "write an address range such as 10.0.0.0/8"
                )
                return None
            self.add(path, f"{value!r} has host bits set", f"did you mean {fixed}?")
            return None

    def check_ingress(self, path: Path, sources: list[dict[str, Any]]) -> None:
        self.check_unique_names(path, sources, "ingress source")
        for index, source in enumerate(sources):
            self.check_dns_label((*path, index, "namespace"), source["namespace"])
            if "podLabels" in source:
                self.check_label_map((*path, index, "podLabels"), source["podLabels"])
            self.check_ports((*path, index, "ports"), source.get("ports", []))

    def check_agents(self, path: Path, agents: list[dict[str, Any]]) -> None:
        self.check_unique_names(path, agents, "agent")
        for index, agent in enumerate(agents):
            self.check_label_map((*path, index, "selector"), agent["selector"])
            if not agent["selector"]:
                self.add(
                    (*path, index, "selector"),
                    "an empty selector would apply the agent's policy to every pod",
                    "list the labels of the agent's pods",
                )
            if not agent.get("principals") and not agent.get("namespaces"):
                self.add(
                    (*path, index),
                    f"agent {agent['name']!r} lists no clients, so nothing could call it",
                    "add principals or namespaces, or remove the agent",
                    at_value=False,
                )
            for n_index, namespace in enumerate(agent.get("namespaces", [])):
                self.check_dns_label((*path, index, "namespaces", n_index), namespace)

    # --- tenants --------------------------------------------------------------------------------

    def check_tenants(self) -> None:
        tenants = self.data["spec"]["tenants"]
        reserved: dict[str, str] = {}
        self.guarded(lambda: reserved.update(self.reserved_namespaces()))
        tenant_seen: dict[str, int] = {}
        namespace_seen: dict[str, Path] = {}
        for t_index, tenant in enumerate(tenants):
            self.guarded(self.check_tenant, t_index, tenant, reserved, tenant_seen, namespace_seen)
        self.guarded(lambda: self.check_tenant_gateways(tenants))

    def check_tenant(
        self,
        t_index: int,
        tenant: dict[str, Any],
        reserved: dict[str, str],
        tenant_seen: dict[str, int],
        namespace_seen: dict[str, Path],
    ) -> None:
        t_path: Path = ("spec", "tenants", t_index)
        name = tenant.get("name")
        if isinstance(name, str):
            self.check_dns_label((*t_path, "name"), name)
            if name in tenant_seen:
                self.add(
                    (*t_path, "name"),
                    f"tenant {name!r} is defined twice "
                    f"(first at spec.tenants[{tenant_seen[name]}])",
                    "merge the two entries or rename one",
                )
            tenant_seen.setdefault(name, t_index)
        self.guarded(lambda: self.check_roles(t_path, tenant))
        self.guarded(lambda: self.check_quantities((*t_path, "budget"), tenant.get("budget", {})))
        for n_index, namespace in enumerate(tenant["namespaces"]):
            n_path: Path = (*t_path, "namespaces", n_index)

            def check_name(n_path: Path = n_path, namespace: Any = namespace) -> None:
                # Inside the guard: a schema-refused entry may have no name.
                self.check_namespace_name(n_path, namespace["name"], reserved, namespace_seen)

            self.guarded(check_name)
            self.guarded(self.check_environment, n_path, namespace)
            if self.resolved is not None:
                resolved = self.resolved[t_index][n_index]
                self.guarded(self.check_effective, n_path, resolved.layers, resolved.settings)
                self.guarded(self.check_quota_fit, t_index, n_path, resolved)
        if self.resolved is not None:
            self.guarded(lambda: self.check_budget(t_index, tenant))

    def check_tenant_gateways(self, tenants: list[dict[str, Any]]) -> None:
        """A tenant gateway's account is its own: not the shared gateway's, not another's."""
        shared = self.data["spec"]["platform"]["gateway"].get("serviceAccount", "sandbox-gateway")
        owners: dict[str, str] = {shared: "the shared gateway (platform.gateway)"}
        for t_index, tenant in enumerate(tenants):
            account = (tenant.get("gateway") or {}).get("serviceAccount")
            if account is None:
                continue
            if account in owners:
                self.add(
                    ("spec", "tenants", t_index, "gateway", "serviceAccount"),
                    f"ServiceAccount {account!r} is already {owners[account]}'s",
                    "give each tenant gateway an account of its own, e.g. "
                    f"sandbox-gateway-{tenant['name']}",
                )
            owners.setdefault(account, f"tenant {tenant['name']}")

    def check_quota_fit(self, t_index: int, n_path: Path, resolved: ResolvedNamespace) -> None:
        limits = resolved.settings["limits"]
        for misfit in quotafit.misfits(
            resolved.compute,
            limits.get("default", {}),
            limits.get("defaultRequest", {}),
            limits.get("max", {}),
        ):
            setting = ("quota", "compute", misfit.quota_key)
            where = resolved.layers.origin(setting)
            if where is None or (
                where[:2] == ("spec", "defaults") and self.budget_has(t_index, misfit.quota_key)
            ):
                where = ("spec", "tenants", t_index, "budget", misfit.quota_key)
            if "defaults" in where:
                # Shared by many namespaces alike: one problem at the shared line.
                self.add(where, misfit.message, misfit.hint)
                continue
            name = self.data["spec"]["tenants"][t_index]["namespaces"][n_path[-1]]["name"]
            self.add(where, f"namespace {name!r}: {misfit.message}", misfit.hint)

    def budget_has(self, t_index: int, key: str) -> bool:
        return key in self.data["spec"]["tenants"][t_index].get("budget", {})

    def check_environment(self, n_path: Path, namespace: dict[str, Any]) -> None:
        if "environment" in namespace and not _valid_label_value(namespace["environment"]):
            self.add(
                (*n_path, "environment"),
                f"{namespace['environment']!r} is not a valid label value",
                "use up to 63 letters, digits, '-', '_' or '.'",
            )

    def check_roles(self, t_path: Path, tenant: dict[str, Any]) -> None:
        roles = tenant.get("roles", {})
        if not roles:
            self.add(
                t_path,
                f"tenant {tenant['name']!r} grants no roles, so nobody could use its namespaces",
                "add roles.admin.groups (or users)",
                at_value=False,
            )
        for role, subjects in roles.items():
            names = [*subjects.get("groups", []), *subjects.get("users", [])]
            if not names:
                self.add(
                    (*t_path, "roles", role),
                    f"role {role!r} lists no groups or users",
                    "add a group or user, or remove the role",
                    at_value=False,
                )
            for kind in ("groups", "users"):
                for index, name in enumerate(subjects.get(kind, [])):
                    if not name.strip():
                        self.add(
                            (*t_path, "roles", role, kind, index),
                            "subject name is empty",
                            "write the group or user name",
                        )
                    elif name.startswith("system:"):
                        self.add(
                            (*t_path, "roles", role, kind, index),
                            f"{name!r} is a Kubernetes system identity",
                            "bind the tenant's own groups or users",
                        )
                    else:
                        self.check_one_line((*t_path, "roles", role, kind, index), name)

    def check_one_line(self, path: Path, name: str) -> None:
        """Identities and role names travel one a line in the admission policies' parameter
        ConfigMap (tenantctl.render.policies), so none may hold a line break."""
        if "\n" in name or "\r" in name:
            self.add(path, f"{name!r} holds a line break", "write the name on one line")

    def check_namespace_name(
        self, path: Path, name: str, reserved: dict[str, str], seen: dict[str, Path]
    ) -> None:
        name_path = (*path, "name")
        if not self.check_dns_label(name_path, name):
            return
        if self.openshell and (len(name) > OPENSHELL_MAX_NAME or "--" in name):
            self.add(
                name_path,
                f"{name!r} cannot be an OpenShell workspace: at most {OPENSHELL_MAX_NAME} "
                "characters and no '--'",
                "shorten the namespace name",
            )
        problem = reserved_problem(name, reserved, self.well_known_namespaces())
        if problem is not None:
            self.add(name_path, *problem)
        if name in seen:
            other = seen[name]
            self.add(
                name_path,
                f"namespace {name!r} is already declared at spec.tenants[{other[2]}]"
                f".namespaces[{other[4]}]",
                "namespace names must be unique across all tenants",
            )
        seen.setdefault(name, path)

    def check_effective(
        self, n_path: Path, layers: SettingLayers, settings: dict[str, Any]
    ) -> None:
        compute = settings["quota"]["compute"]
        limits = settings["limits"]
        for quota_key, (groups, resource) in _QUOTA_NEEDS_LIMIT_DEFAULT.items():
            if quota_key not in compute:
                continue
            if not any(resource in limits.get(group, {}) for group in groups):
                where = layers.origin(("quota", "compute", quota_key)) or n_path
                self.add(
                    where,
                    f"quota sets {quota_key} but the LimitRange has no default {resource}, so "
                    "every pod that sets no resources would be rejected",
                    f"add limits.{groups[0]}.{resource}",
                    at_value=False,
                )
        self.check_limit_order(layers, limits)
        istio = settings["istio"]
        if istio["agents"] and istio["mtls"] != "STRICT":
            where = layers.origin(("istio", "mtls")) or n_path
            self.add(
                where,
                "AuthorizationPolicies for agents need STRICT mTLS: under PERMISSIVE a plaintext "
                "caller has no identity to check",
                "set istio.mtls: STRICT",
            )
        if istio["enabled"] and istio.get("sidecarInjection") is False:
            where = layers.origin(("istio", "sidecarInjection")) or n_path
            self.add(
                where,
                "sidecarInjection: false leaves the namespace's workloads outside the mesh, so "
                "its STRICT mTLS and AuthorizationPolicies would bind no workload",
                "remove sidecarInjection and choose istio.dataPlane: sidecar or ambient",
                at_value=False,
            )
        if istio.get("sidecarInjection") is True and istio["dataPlane"] == "ambient":
            where = layers.origin(("istio", "sidecarInjection")) or n_path
            self.add(
                where,
                "sidecarInjection: true contradicts istio.dataPlane: ambient",
                "remove sidecarInjection; istio.dataPlane chooses the data plane",
                at_value=False,
            )
        if istio["agents"] and not istio["enabled"]:
            where = layers.origin(("istio", "agents")) or n_path
            self.add(
                where,
                "agents are listed but Istio is not enabled for this namespace",
                "set istio.enabled: true, or remove the agents",
                at_value=False,
            )
        objects = settings["quota"]["objects"]
        services = settings["services"]
        for flag, quota_key in (
            ("allowNodePort", "services.nodeports"),
            ("allowLoadBalancer", "services.loadbalancers"),
        ):
            if services[flag] and objects.get(quota_key, 0) == 0:
                where = layers.origin(("services", flag)) or n_path
                self.add(
                    where,
                    f"services.{flag} is true but quota objects {quota_key} is 0",
                    f'raise quota.objects["{quota_key}"] or set {flag}: false',
                )

    def check_limit_order(self, layers: SettingLayers, limits: dict[str, dict[str, Any]]) -> None:
        # Namespaces that set no limits of their own share one merged ``limits`` mapping (see
        # ``resolving``): its values are compared once. The mapping is kept with its answer, so
        # its id cannot be reused while the answer is.
        known = self._limit_orders.get(id(limits))
        violations = (
            known[1] if known is not None and known[0] is limits else _limit_violations(limits)
        )
        found = []
        for low, high, resource in violations:
            found.append((low, high, resource))
            where = layers.origin(("limits", low, resource))
            if where is not None:
                self.add(
                    where,
                    f"limits.{low}.{resource} is above limits.{high}.{resource}",
                    f"make {low} at most {high}",
                )
        self._limit_orders[id(limits)] = (limits, found)

    def check_sandbox_budget(self, t_index: int, limit: int) -> None:
        if self.resolved is None:
            return
        namespaces = self.resolved[t_index]
        used = sum(ns.sandboxes or 0 for ns in namespaces)
        where = ("quota", "objects", SANDBOX_BUDGET_KEY)
        shares = [
            ns.sandboxes
            for ns in namespaces
            if (origin := ns.layers.origin(where)) is None or origin[:2] == ("spec", "defaults")
        ]
        path: Path = ("spec", "tenants", t_index, "budget", SANDBOX_BUDGET_KEY)
        if used > limit:
            self.add(
                path,
                f"the namespaces' sandbox quotas add up to {used}, over the budget of {limit}",
                "lower the namespaces' quota.objects.sandboxes or raise the budget",
            )
        elif any(share == 0 for share in shares):
            self.add(
                path,
                f"the budget of {limit} sandboxes leaves none for some namespaces",
                "raise the budget or lower the sandbox quotas set explicitly",
            )

    def check_budget(self, t_index: int, tenant: dict[str, Any]) -> None:
        budget = tenant.get("budget", {})
        if not budget or self.resolved is None:
            return
        computes = [ns.compute for ns in self.resolved[t_index]]
        for key, limit in budget.items():
            if key == SANDBOX_BUDGET_KEY:
                self.check_sandbox_budget(t_index, int(limit))
                continue
            try:
                total = parse_quantity(limit)
                parts = [parse_quantity(c[key]) for c in computes if key in c]
            except QuantityError:
                continue
            used = sum(parts, Decimal(0))
            path: Path = ("spec", "tenants", t_index, "budget", key)
            if used > total:
                self.add(
                    path,
                    f"the namespaces' {key} quotas add up to {_plain(used)}, over the budget "
                    f"of {limit}",
                    "lower the namespace quotas or raise the budget",
                )
            elif any(part == 0 for part in parts):
                self.add(
                    path,
                    f"the budget of {limit} leaves no {key} for some namespaces",
                    "raise the budget or lower the quotas set explicitly",
                )


def _limit_violations(limits: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, str]]:
    """(low, high, resource) wherever a lower LimitRange value is above a higher one."""
    for resource in ("cpu", "memory", "ephemeral-storage"):
        values: dict[str, Decimal] = {}
        for group in ("defaultRequest", "default", "max"):
            if resource in limits.get(group, {}):
                try:
                    values[group] = parse_quantity(limits[group][resource])
                except QuantityError:
                    return  # reported where it was written
        for low, high in (
            ("defaultRequest", "default"),
            ("default", "max"),
            ("defaultRequest", "max"),
        ):
            if low in values and high in values and values[low] > values[high]:
                yield low, high, resource


def _is_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return True


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _plain(value: Decimal) -> str:
    normalized = value.normalize()
    return format(normalized, "f")


def _valid_label_key(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_LABEL_NAME.match(name))


def _valid_label_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and bool(_LABEL_NAME.match(value)))
