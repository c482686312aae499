"""The admission-policy bundle: ValidatingAdmissionPolicies and their bindings for one spec.

The CEL lives in the catalogue (``tenantctl.policies``, one YAML file per policy) and never
names an identity or a label key. This module supplies them: every *input* a policy lists
becomes a CEL variable whose expression is a literal computed from the TenantSet (the gateway's,
controller's and managers' identities, the sandbox ServiceAccount, tenants and their groups) or
from ``tenantctl.labels``. Inlined literals rather than a ``paramKind`` ConfigMap: nothing else to
install or keep in step, the policy cannot run with missing parameters, and `kubectl get
validatingadmissionpolicy -o yaml` shows exactly what is enforced.

Kubernetes' own identities (the namespace and garbage collectors, ``system:masters``) are not
spec identities; they are named below with the reason each is exempt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from tenantctl import apigroups, labels
from tenantctl.policies import PolicySource, SharedVariable, load_catalog, load_shared
from tenantctl.render import rbac
from tenantctl.render.meta import Manifest, manifest, metadata, ownership_labels
from tenantctl.spec.model import TenantSet

ADMISSION_API = "admissionregistration.k8s.io/v1"

# Kubernetes' superuser group: it bypasses RBAC and can delete these policies anyway, so it
# counts as a manager (platform break-glass) where the policy protects the platform's own
# configuration (managed objects, namespace labels, RoleBindings), and nowhere else.
SUPERUSER_GROUP = "system:masters"

# kube-controller-manager, as itself and with --use-service-account-credentials: the namespace
# controller deletes everything in a namespace being deleted, the garbage collector deletes
# dependents and removes finalizers. Policies that guard deletions let them through.
SYSTEM_COMPONENTS = (
    "system:kube-controller-manager",
    "system:serviceaccount:kube-system:namespace-controller",
    "system:serviceaccount:kube-system:generic-garbage-collector",
)

# Kubelets: they request the ServiceAccount tokens projected into pods, the sandbox's included.
NODE_GROUP = "system:nodes"

CLUSTER_ADMIN = "cluster-admin"

CelValue = str | Sequence[str] | Mapping[str, Any]


def _tenant_roles(tenantset: TenantSet) -> list[str]:
    allowed = [*tenantset.platform.allowed_cluster_roles, rbac.SANDBOX_USER_ROLE]
    allowed.append(rbac.SANDBOX_VIEWER_ROLE)
    return [role for role in dict.fromkeys(allowed) if role != CLUSTER_ADMIN]


def _manager_users(tenantset: TenantSet) -> list[str]:
    managers = tenantset.platform.managers
    return [*managers.users, *(account.username for account in managers.service_accounts)]


def _tenant_subjects(tenantset: TenantSet, kind: str) -> dict[str, list[str]]:
    return {
        tenant.name: sorted(
            {
                name
                for subjects in tenant.roles.values()
                for name in (subjects.groups if kind == "groups" else subjects.users)
            }
        )
        for tenant in tenantset.tenants
    }


def _marker_labels(tenantset: TenantSet) -> list[str]:
    markers = [labels.TENANT_NAMESPACE, labels.TENANT, labels.SPEC_ID]
    gateway = tenantset.platform.gateway
    if gateway.flavor == "openshell" and gateway.allowlist.source == "label":
        markers.append(gateway.allowlist.label)
    return markers


def _protected_keys(tenantset: TenantSet) -> list[str]:
    skip = {*_marker_labels(tenantset), labels.MANAGED_BY}
    return [key for key in labels.PROTECTED_NAMESPACE_KEYS if key not in skip]


# Every value a policy may take from the spec or from tenantctl.labels, by input name. The order
# is the order of the variables in a rendered policy.
INPUTS: dict[str, Callable[[TenantSet], CelValue]] = {
    # Tenant gateways too: RBAC binds each only in its own tenant's namespaces.
    "gatewayUsers": lambda ts: [identity.username for identity in ts.gateway_identities()],
    "controllerUser": lambda ts: ts.platform.controller.username,
    "systemUsers": lambda ts: list(SYSTEM_COMPONENTS),
    "managerUsers": _manager_users,
    "managerGroups": lambda ts: [*ts.platform.managers.groups, SUPERUSER_GROUP],
    "nodeGroups": lambda ts: [NODE_GROUP],
    "sandboxServiceAccount": lambda ts: ts.platform.sandbox_service_account,
    "sandboxApiGroup": lambda ts: apigroups.SANDBOX_GROUP,
    "sandboxExtensionsApiGroup": lambda ts: apigroups.SANDBOX_EXTENSIONS_GROUP,
    "allowedClusterRoles": _tenant_roles,
    "tenantOfNamespace": lambda ts: {ns.name: ns.tenant for ns in ts.namespaces()},
    "tenantGroups": lambda ts: _tenant_subjects(ts, "groups"),
    "tenantUsers": lambda ts: _tenant_subjects(ts, "users"),
    "tenantNamespaceLabel": lambda ts: labels.TENANT_NAMESPACE,
    "tenantLabel": lambda ts: labels.TENANT,
    "tenantMarkerLabels": _marker_labels,
    "protectedNamespaceKeys": _protected_keys,
    "managedByLabel": lambda ts: labels.MANAGED_BY,
    "managedByValue": lambda ts: labels.MANAGED_BY_VALUE,
    "nodeSelectorAnnotation": lambda ts: labels.NODE_SELECTOR,
    "requirePullAlwaysAnnotation": lambda ts: labels.REQUIRE_PULL_ALWAYS,
    "allowNodePortAnnotation": lambda ts: labels.ALLOW_NODEPORT,
    "allowLoadBalancerAnnotation": lambda ts: labels.ALLOW_LOADBALANCER,
    "appArmorAnnotationPrefix": lambda ts: labels.APPARMOR_ANNOTATION_PREFIX,
    "serviceAccountNameAnnotation": lambda ts: labels.SERVICE_ACCOUNT_NAME_ANNOTATION,
    "sandboxPodMarkerLabels": lambda ts: [
        labels.AGENT_SANDBOX_NAME_HASH,
        labels.OPENSHELL_SANDBOX_ID,
    ],
    "sandboxPodMarkerAnnotations": lambda ts: [labels.OPENSHELL_SANDBOX_ID_ANNOTATION],
}


@cache
def catalog() -> tuple[PolicySource, ...]:
    return load_catalog()


@cache
def shared_variables() -> dict[str, SharedVariable]:
    return {variable.name: variable for variable in load_shared()}


def cel_literal(value: CelValue) -> str:
    """A CEL literal for a string, a list of strings or a map of such values."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, Mapping):
        return (
            "{" + ", ".join(f"{cel_literal(k)}: {cel_literal(v)}" for k, v in value.items()) + "}"
        )
    return "[" + ", ".join(cel_literal(item) for item in value) + "]"


def input_variables(tenantset: TenantSet, source: PolicySource) -> list[dict[str, str]]:
    """The policy's inputs as CEL variables: spec literals first, then shared expressions."""
    shared = shared_variables()
    unknown = [name for name in source.inputs if name not in INPUTS and name not in shared]
    if unknown:
        raise KeyError(f"policy {source.name} names unknown inputs {unknown}")
    wanted_shared = [name for name in shared if name in source.inputs]
    literals = {
        *(name for name in source.inputs if name in INPUTS),
        *(name for variable in wanted_shared for name in shared[variable].inputs),
    }
    return [
        *(
            {"name": name, "expression": cel_literal(compute(tenantset))}
            for name, compute in INPUTS.items()
            if name in literals
        ),
        *({"name": name, "expression": shared[name].expression} for name in wanted_shared),
    ]


def _validation(source: PolicySource, index: int) -> dict[str, str]:
    validation = source.validations[index]
    rendered = {"expression": validation.expression}
    prefix = f"{source.name}: "
    if validation.message_expression is not None:
        rendered["messageExpression"] = f"{cel_literal(prefix)} + ({validation.message_expression})"
    else:
        rendered["message"] = prefix + " ".join((validation.message or "").split())
    rendered["reason"] = validation.reason
    return rendered


def render_policy(tenantset: TenantSet, source: PolicySource) -> Manifest:
    return manifest(
        ADMISSION_API,
        "ValidatingAdmissionPolicy",
        metadata(
            source.name,
            ownership_labels(tenantset),
            annotations={
                labels.POLICY_TITLE: source.title,
                labels.POLICY_VERSION: source.version,
            },
        ),
        spec={
            "failurePolicy": "Fail",
            "matchConstraints": source.match_constraints,
            "variables": [
                *input_variables(tenantset, source),
                *({"name": v.name, "expression": v.expression} for v in source.variables),
            ],
            "validations": [_validation(source, i) for i in range(len(source.validations))],
        },
    )


def render_binding(tenantset: TenantSet, source: PolicySource) -> Manifest:
    spec: dict[str, Any] = {"policyName": source.name, "validationActions": ["Deny"]}
    if source.scope == "tenant-namespaces":
        spec["matchResources"] = {
            "namespaceSelector": {"matchLabels": {labels.TENANT_NAMESPACE: "true"}}
        }
    return manifest(
        ADMISSION_API,
        "ValidatingAdmissionPolicyBinding",
        metadata(source.name, ownership_labels(tenantset)),
        spec=spec,
    )


def render_policies(tenantset: TenantSet) -> list[Manifest]:
    """Every policy of the catalogue, each followed by its binding."""
    return [
        obj
        for source in catalog()
        for obj in (render_policy(tenantset, source), render_binding(tenantset, source))
    ]
