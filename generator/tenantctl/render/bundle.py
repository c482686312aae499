"""Assemble every manifest family into one Rendering, grouped into files by concern.

The grouping is the layout users see: per namespace ``namespace.yaml``, ``rbac.yaml``,
``network.yaml``, ``quota.yaml`` and ``istio.yaml``; shared cluster-scoped and gateway-namespace
objects in their own files. Emitters decide only where those files go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tenantctl.render import istio, namespaces, network, openshell, policies, quota, rbac
from tenantctl.render.meta import Manifest
from tenantctl.spec.model import Tenant, TenantNamespace, TenantSet


@dataclass(frozen=True)
class NamespaceFiles:
    tenant: str
    namespace: str
    files: dict[str, list[Manifest]]


@dataclass(frozen=True)
class Rendering:
    spec_id: str
    shared: dict[str, list[Manifest]]
    namespaces: list[NamespaceFiles]
    # Kustomize Component patches for workloads tenantctl does not own (OpenShell's gateway).
    component_patches: dict[str, dict[str, Any]] = field(default_factory=dict)

    def all_manifests(self) -> list[Manifest]:
        objects = [obj for docs in self.shared.values() for obj in docs]
        for ns in self.namespaces:
            objects.extend(obj for docs in ns.files.values() for obj in docs)
        return objects


def render(tenantset: TenantSet) -> Rendering:
    shared, patches = render_shared(tenantset)
    calls = network.agent_calls(tenantset)
    pairs = [(tenant, ns) for tenant in tenantset.tenants for ns in tenant.namespaces]
    return Rendering(tenantset.spec_id, shared, render_namespaces(tenantset, pairs, calls), patches)


def render_shared(
    tenantset: TenantSet,
) -> tuple[dict[str, list[Manifest]], dict[str, dict[str, Any]]]:
    """The shared files' objects, and the Kustomize Component patches."""
    shared: dict[str, list[Manifest]] = {
        "cluster-roles.yaml": rbac.render_cluster_roles(tenantset),
        "gateway-rbac.yaml": [
            rbac.render_gateway_cluster_binding(tenantset),
            *rbac.render_tenant_gateway_accounts(tenantset),
        ],
        "gateway-network.yaml": [network.render_gateway_ingress_policy(tenantset)],
        "admission-policies.yaml": policies.render_policies(tenantset),
        "admission-parameters.yaml": [policies.render_parameters(tenantset)],
        "admission-informer.yaml": policies.render_informer_anchor(),
    }
    patches: dict[str, dict[str, Any]] = {}
    if openshell.uses_allowlist_file(tenantset):
        shared["openshell-allowlist.yaml"] = [openshell.render_allowlist_config_map(tenantset)]
        patches["openshell-allowlist-mount.yaml"] = openshell.render_allowlist_mount_patch(
            tenantset
        )
    return shared, patches


def render_namespaces(
    tenantset: TenantSet,
    pairs: Sequence[tuple[Tenant, TenantNamespace]],
    calls: network.AgentCalls,
) -> list[NamespaceFiles]:
    """The files of each (tenant, namespace) in ``pairs``; ``calls`` is ``network.agent_calls``
    of the whole ``tenantset``. Each namespace is rendered on its own, so any slice of the
    namespaces can be rendered apart from the rest."""
    per_namespace = []
    for tenant, ns in pairs:
        files = {
            "namespace.yaml": [
                namespaces.render_namespace(tenantset, tenant, ns),
                namespaces.render_sandbox_service_account(tenantset, tenant, ns),
            ],
            "rbac.yaml": rbac.render_tenant_bindings(tenantset, tenant, ns),
            "network.yaml": network.render_tenant_policies(tenantset, tenant, ns, calls),
            "quota.yaml": [
                obj
                for obj in (
                    quota.render_resource_quota(tenantset, tenant, ns),
                    quota.render_limit_range(tenantset, tenant, ns),
                )
                if obj is not None
            ],
            "istio.yaml": istio.render_istio(tenantset, tenant, ns),
        }
        per_namespace.append(
            NamespaceFiles(tenant.name, ns.name, {k: v for k, v in files.items() if v})
        )
    return per_namespace
