"""Object metadata shared by every renderer: names, namespaces and the ownership labels.

Every object tenantctl renders carries ``app.kubernetes.io/managed-by: tenantctl`` and the spec id,
and per-tenant objects also the tenant. Prune and the admission policies select on exactly these.
The exception are the few objects every spec renders alike (``shared_metadata``): they carry no
spec id, so that several TenantSets on one cluster compose.
"""

from __future__ import annotations

from typing import Any

from tenantctl import labels
from tenantctl.spec.model import TenantSet

Manifest = dict[str, Any]


def ownership_labels(tenantset: TenantSet, tenant: str | None = None) -> dict[str, str]:
    result = {labels.MANAGED_BY: labels.MANAGED_BY_VALUE, labels.SPEC_ID: tenantset.spec_id}
    if tenant is not None:
        result[labels.TENANT] = tenant
    return result


def shared_metadata(name: str) -> dict[str, Any]:
    """Metadata of an object that every spec renders the same (no spec id, so no spec owns or
    prunes it; Argo CD and Flux never prune or delete it either). Several TenantSets on one
    cluster then apply identical objects instead of taking them from each other."""
    return metadata(
        name,
        {labels.MANAGED_BY: labels.MANAGED_BY_VALUE},
        annotations={
            labels.ARGOCD_SYNC_OPTIONS: labels.ARGOCD_SHARED_SYNC_OPTIONS,
            labels.FLUX_RECONCILE: labels.FLUX_RECONCILE_DISABLED,
        },
    )


def metadata(
    name: str,
    owned: dict[str, str],
    *,
    namespace: str | None = None,
    extra_labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = dict(sorted((owned | extra_labels if extra_labels else owned).items()))
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    return meta


def manifest(api_version: str, kind: str, meta: dict[str, Any], **body: Any) -> Manifest:
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}
