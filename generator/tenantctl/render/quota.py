"""ResourceQuota and LimitRange: a budget per namespace, and defaults so pods fit it.

A quota on a compute resource rejects every pod that does not state that resource; the
LimitRange's defaults fill it in (the spec check guarantees a default exists for every quota key).
"""

from __future__ import annotations

from typing import Any

from tenantctl.apigroups import SANDBOX_GROUP, SANDBOX_RESOURCE
from tenantctl.render.meta import Manifest, manifest, metadata, ownership_labels
from tenantctl.spec.model import Tenant, TenantNamespace, TenantSet

QUOTA_NAME = "tenant-quota"
LIMIT_RANGE_NAME = "tenant-limits"
# Spec object-count keys that are not ResourceQuota keys as they stand. A Sandbox is a custom
# resource, counted by the generic object-count syntax count/<resource>.<group>.
QUOTA_KEYS = {"sandboxes": f"count/{SANDBOX_RESOURCE}.{SANDBOX_GROUP}"}


def hard_limits(namespace: TenantNamespace) -> dict[str, str]:
    """The ResourceQuota's ``spec.hard``: compute totals and object counts, sorted by key."""
    hard = dict(namespace.compute_quota)
    hard.update(
        {QUOTA_KEYS.get(key, key): str(value) for key, value in namespace.object_quota.items()}
    )
    return dict(sorted(hard.items()))


def render_resource_quota(
    tenantset: TenantSet, tenant: Tenant, namespace: TenantNamespace
) -> Manifest | None:
    hard = hard_limits(namespace)
    if not hard:
        return None
    return manifest(
        "v1",
        "ResourceQuota",
        metadata(QUOTA_NAME, ownership_labels(tenantset, tenant.name), namespace=namespace.name),
        spec={"hard": hard},
    )


def render_limit_range(
    tenantset: TenantSet, tenant: Tenant, namespace: TenantNamespace
) -> Manifest | None:
    limit: dict[str, Any] = {"type": "Container"}
    for field, values in (
        ("default", namespace.limit_default),
        ("defaultRequest", namespace.limit_default_request),
        ("max", namespace.limit_max),
    ):
        if values:
            limit[field] = dict(sorted(values.items()))
    if len(limit) == 1:
        return None
    return manifest(
        "v1",
        "LimitRange",
        metadata(
            LIMIT_RANGE_NAME, ownership_labels(tenantset, tenant.name), namespace=namespace.name
        ),
        spec={"limits": [limit]},
    )
