"""Object metadata shared by every renderer: names, namespaces and the ownership labels.

Every object tenantctl renders carries ``app.kubernetes.io/managed-by: tenantctl`` and the spec id,
and per-tenant objects also the tenant. Prune and the admission policies select on exactly these.
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
    meta["labels"] = dict(sorted({**owned, **(extra_labels or {})}.items()))
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    return meta


def manifest(api_version: str, kind: str, meta: dict[str, Any], **body: Any) -> Manifest:
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}
