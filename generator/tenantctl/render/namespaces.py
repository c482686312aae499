"""The tenant Namespace itself and the ServiceAccount its sandbox pods run as.

The Namespace records who the tenant is (labels for selection, annotations for audit), its Pod
Security levels, its residency requirement, its Istio data plane (sidecar injection or ambient,
so that mesh policies bind its workloads) and, for OpenShell's label allowlist, the workspace
label. No ownerReferences anywhere: a namespace must never be garbage-collected as a side effect.
"""

from __future__ import annotations

from tenantctl import labels, residency
from tenantctl.render.meta import Manifest, manifest, metadata, ownership_labels
from tenantctl.spec.model import Tenant, TenantNamespace, TenantSet


def render_namespace(tenantset: TenantSet, tenant: Tenant, namespace: TenantNamespace) -> Manifest:
    gateway = tenantset.platform.gateway
    extra = {
        labels.TENANT_NAMESPACE: "true",
        labels.POD_SECURITY_ENFORCE: namespace.pod_security.enforce,
        labels.POD_SECURITY_AUDIT: namespace.pod_security.audit,
        labels.POD_SECURITY_WARN: namespace.pod_security.warn,
    }
    if namespace.environment:
        extra[labels.ENVIRONMENT] = namespace.environment
    if namespace.istio.enabled:
        extra.update(mesh_enrolment_labels(namespace))
    if gateway.flavor == "openshell" and gateway.allowlist.source == "label":
        extra[gateway.allowlist.label] = "true"

    annotations = {labels.OWNER: tenant.owner}
    for key, value in (
        (labels.DISPLAY_NAME, tenant.display_name),
        (labels.CONTACT, tenant.contact),
        (labels.COST_CENTER, tenant.cost_center),
    ):
        if value:
            annotations[key] = value
    if namespace.node_selector:
        annotations[labels.NODE_SELECTOR] = residency.format_node_selector(namespace.node_selector)
    annotations[labels.REQUIRE_PULL_ALWAYS] = str(namespace.require_pull_always).lower()
    annotations[labels.ALLOW_NODEPORT] = str(namespace.allow_nodeport).lower()
    annotations[labels.ALLOW_LOADBALANCER] = str(namespace.allow_loadbalancer).lower()
    annotations[labels.ARGOCD_SYNC_OPTIONS] = labels.ARGOCD_NAMESPACE_SYNC_OPTIONS
    annotations[labels.FLUX_RECONCILE] = labels.FLUX_RECONCILE_DISABLED

    return manifest(
        "v1",
        "Namespace",
        metadata(
            namespace.name,
            ownership_labels(tenantset, tenant.name),
            extra_labels=extra,
            annotations=annotations,
        ),
    )


def mesh_enrolment_labels(namespace: TenantNamespace) -> dict[str, str]:
    """The Namespace labels that put its workloads in the Istio data plane the spec chose."""
    if namespace.istio.data_plane == "ambient":
        return {labels.ISTIO_DATAPLANE_MODE: "ambient"}
    return {labels.ISTIO_INJECTION: "enabled"}


def render_sandbox_service_account(
    tenantset: TenantSet, tenant: Tenant, namespace: TenantNamespace
) -> Manifest:
    return manifest(
        "v1",
        "ServiceAccount",
        metadata(
            tenantset.platform.sandbox_service_account,
            ownership_labels(tenantset, tenant.name),
            namespace=namespace.name,
        ),
    )
