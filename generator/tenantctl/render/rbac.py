"""RBAC: tenant access inside their own namespaces, and the gateway's split permissions.

Tenants get RoleBindings only (never ClusterRoleBindings) to the built-in admin/edit/view roles,
plus tenantctl's sandbox roles, which grant the gateway's virtual resource
``sandboxes.gateway.tenantctl.dev``: the gateway authorises callers with a SubjectAccessReview on
it, so these bindings are the single source of truth for who may create sandboxes where.

The gateway's permissions are split (docs/design.md §3): reading across the cluster through
one ClusterRoleBinding, writing Sandboxes (and, for OpenShell, its TLS Secret) only through a
RoleBinding in each tenant namespace. It therefore cannot write a Sandbox anywhere else.
"""

from __future__ import annotations

from typing import Any

from tenantctl.apigroups import (
    GATEWAY_API_GROUP,
    GATEWAY_RESOURCE,
    SANDBOX_EXTENSIONS_GROUP,
    SANDBOX_GROUP,
    SANDBOX_RESOURCE,
)
from tenantctl.render.meta import Manifest, manifest, metadata, ownership_labels, shared_metadata
from tenantctl.spec.model import ROLES, Role, Subjects, Tenant, TenantNamespace, TenantSet

RBAC_API = "rbac.authorization.k8s.io/v1"

GATEWAY_READ_ROLE = "tenantctl-gateway-read"
GATEWAY_WRITE_ROLE = "tenantctl-gateway-write"
SANDBOX_USER_ROLE = "tenantctl-sandbox-user"
SANDBOX_VIEWER_ROLE = "tenantctl-sandbox-viewer"
GATEWAY_BINDING = "tenantctl-gateway"
# A tenant gateway's ClusterRoleBinding to the built-in reviewer role, suffixed by the tenant.
TENANT_GATEWAY_REVIEWS_PREFIX = "tenantctl-gateway-reviews-"
AUTH_DELEGATOR_ROLE = "system:auth-delegator"
OPENSHELL_TLS_SECRET = "openshell-client-tls"

READ_VERBS = ["get", "list", "watch"]
WRITE_VERBS = ["create", "update", "patch", "delete"]

# The tenantctl sandbox role each tenant role also receives.
_SANDBOX_ROLE_FOR: dict[Role, str] = {
    "admin": SANDBOX_USER_ROLE,
    "edit": SANDBOX_USER_ROLE,
    "view": SANDBOX_VIEWER_ROLE,
}


def _rule(
    groups: list[str], resources: list[str], verbs: list[str], **extra: Any
) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


def render_cluster_roles(tenantset: TenantSet) -> list[Manifest]:
    """The same objects for every spec of a gateway flavor (several TenantSets on one cluster
    must share the flavor, which ``tenantctl.spec.together`` checks): owned by no spec."""
    openshell = tenantset.platform.gateway.flavor == "openshell"
    read_rules = [
        _rule([SANDBOX_GROUP], [SANDBOX_RESOURCE], READ_VERBS),
        _rule([""], ["events", "pods", "namespaces"], READ_VERBS),
        _rule([""], ["nodes"], READ_VERBS),
        _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
        _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
    ]
    write_rules = [
        _rule([SANDBOX_GROUP], [SANDBOX_RESOURCE], [*READ_VERBS, *WRITE_VERBS]),
        _rule([""], ["events"], ["create", "patch"]),
        # Bound in a namespace, this reads only that Namespace: enough for a gateway watching a
        # list of namespaces (--watch-namespaces) to check their labels without cluster reads.
        _rule([""], ["namespaces"], ["get"]),
    ]
    if openshell:
        write_rules += [
            _rule([""], ["secrets"], ["create"]),
            _rule([""], ["secrets"], ["get", "patch"], resourceNames=[OPENSHELL_TLS_SECRET]),
        ]
    return [
        manifest(RBAC_API, "ClusterRole", shared_metadata(GATEWAY_READ_ROLE), rules=read_rules),
        manifest(RBAC_API, "ClusterRole", shared_metadata(GATEWAY_WRITE_ROLE), rules=write_rules),
        manifest(
            RBAC_API,
            "ClusterRole",
            shared_metadata(SANDBOX_USER_ROLE),
            rules=[
                # update: stop and start a sandbox (OpenShell's StopSandbox / StartSandbox).
                _rule(
                    [GATEWAY_API_GROUP],
                    [GATEWAY_RESOURCE],
                    [*READ_VERBS, "create", "update", "delete"],
                ),
                _rule([SANDBOX_GROUP, SANDBOX_EXTENSIONS_GROUP], ["*"], READ_VERBS),
            ],
        ),
        manifest(
            RBAC_API,
            "ClusterRole",
            shared_metadata(SANDBOX_VIEWER_ROLE),
            rules=[
                _rule([GATEWAY_API_GROUP], [GATEWAY_RESOURCE], READ_VERBS),
                _rule([SANDBOX_GROUP, SANDBOX_EXTENSIONS_GROUP], ["*"], READ_VERBS),
            ],
        ),
    ]


def gateway_cluster_binding_name(spec_id: str) -> str:
    """Per spec: two specs may name different gateways (or the same one, harmlessly twice)."""
    return f"{GATEWAY_READ_ROLE}-{spec_id}"


def render_gateway_cluster_binding(tenantset: TenantSet) -> Manifest:
    gateway = tenantset.platform.gateway
    return manifest(
        RBAC_API,
        "ClusterRoleBinding",
        metadata(gateway_cluster_binding_name(tenantset.spec_id), ownership_labels(tenantset)),
        roleRef=_role_ref("ClusterRole", GATEWAY_READ_ROLE),
        subjects=[_service_account(gateway.namespace, gateway.service_account)],
    )


def render_tenant_bindings(
    tenantset: TenantSet, tenant: Tenant, namespace: TenantNamespace
) -> list[Manifest]:
    owned = ownership_labels(tenantset, tenant.name)
    bindings = []
    for role in ROLES:
        subjects = tenant.roles.get(role)
        if subjects is None:
            continue
        for name, role_name in (
            (f"tenantctl-{role}", role),
            (f"tenantctl-{role}-sandboxes", _SANDBOX_ROLE_FOR[role]),
        ):
            bindings.append(
                manifest(
                    RBAC_API,
                    "RoleBinding",
                    metadata(name, owned, namespace=namespace.name),
                    roleRef=_role_ref("ClusterRole", role_name),
                    subjects=_subjects(subjects),
                )
            )
    gateway = tenantset.platform.gateway
    writers = [_service_account(gateway.namespace, gateway.service_account)]
    if tenant.gateway_service_account:
        writers.append(_service_account(gateway.namespace, tenant.gateway_service_account))
    bindings.append(
        manifest(
            RBAC_API,
            "RoleBinding",
            metadata(GATEWAY_BINDING, owned, namespace=namespace.name),
            roleRef=_role_ref("ClusterRole", GATEWAY_WRITE_ROLE),
            subjects=writers,
        )
    )
    return bindings


def render_tenant_gateway_accounts(tenantset: TenantSet) -> list[Manifest]:
    """Each tenant gateway's ServiceAccount, and its right to review tokens and access.

    Its write permission is the ``tenantctl-gateway`` RoleBinding in its own tenant's namespaces
    (``render_tenant_bindings``), nothing else; reviews are cluster-scoped APIs that only a
    ClusterRoleBinding can grant, to the built-in ``system:auth-delegator`` (create
    TokenReviews and SubjectAccessReviews, nothing more).
    """
    namespace = tenantset.platform.gateway.namespace
    objects: list[Manifest] = []
    for tenant in tenantset.tenants:
        account = tenant.gateway_service_account
        if not account:
            continue
        owned = ownership_labels(tenantset, tenant.name)
        objects.append(
            manifest("v1", "ServiceAccount", metadata(account, owned, namespace=namespace))
        )
        objects.append(
            manifest(
                RBAC_API,
                "ClusterRoleBinding",
                # Named by the account, which no two TenantSets may share (spec/together.py).
                metadata(f"{TENANT_GATEWAY_REVIEWS_PREFIX}{account}", owned),
                roleRef=_role_ref("ClusterRole", AUTH_DELEGATOR_ROLE),
                subjects=[_service_account(namespace, account)],
            )
        )
    return objects


def _role_ref(kind: str, name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def _service_account(namespace: str, name: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def _subjects(subjects: Subjects) -> list[dict[str, str]]:
    return [
        *(
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}
            for group in subjects.groups
        ),
        *(
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}
            for user in subjects.users
        ),
    ]
