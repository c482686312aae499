"""The admission-policy bundle: ValidatingAdmissionPolicies, their bindings and parameters.

The CEL lives in the catalogue (``tenantctl.policies``, one YAML file per policy) and never
names an identity, a tenant or a namespace. Each policy lists *inputs*; this module turns them
into CEL variables in front of the policy's own. Spec data (the gateway's, controller's and
managers' identities, the sandbox ServiceAccount, tenants, their groups, users and namespaces)
comes from a parameter ConfigMap (``paramKind``), one per spec, which each of the spec's bindings
names in its ``paramRef``; tenantctl's own label keys and API groups are CEL literals. So a
policy is fixed, versioned code, and a new tenant changes only the parameters (docs/design.md
says why a ConfigMap and how several specs compose).

Kubernetes' own identities (the namespace and garbage collectors, ``system:masters``) are not
spec identities; they are named below with the reason each is exempt, and travel as parameters
like every identity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from tenantctl import apigroups, labels
from tenantctl.policies import PolicySource, SharedVariable, load_catalog, load_shared
from tenantctl.render import rbac
from tenantctl.render.meta import Manifest, manifest, metadata, ownership_labels, shared_metadata
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


# Every spec value a policy reads, by input name: the parameter object's data. Lists are one
# item a line (identities, label keys and role names hold no line break). The order is the order
# of the variables in a rendered policy.
PARAMETERS: dict[str, Callable[[TenantSet], str | list[str]]] = {
    "specId": lambda ts: ts.spec_id,
    # Tenant gateways too: RBAC binds each only in its own tenant's namespaces.
    "gatewayUsers": lambda ts: [identity.username for identity in ts.gateway_identities()],
    "controllerUser": lambda ts: ts.platform.controller.username,
    "systemUsers": lambda ts: list(SYSTEM_COMPONENTS),
    "managerUsers": _manager_users,
    "managerGroups": lambda ts: [*ts.platform.managers.groups, SUPERUSER_GROUP],
    "nodeGroups": lambda ts: [NODE_GROUP],
    "sandboxServiceAccount": lambda ts: ts.platform.sandbox_service_account,
    "allowedClusterRoles": _tenant_roles,
    "tenantMarkerLabels": _marker_labels,
    "protectedNamespaceKeys": _protected_keys,
    "tenants": lambda ts: [tenant.name for tenant in ts.tenants],
}

# Keys of the tenant data beside the named parameters: a tenant's groups and users (one a line)
# and, for every tenant namespace, its tenant. Tenant and namespace names are DNS labels, so they
# are valid ConfigMap keys; identities are not, so they are values. The CEL of
# generator/tenantctl/policies/rolebinding-scope.yaml reads these keys by name (its samples
# prove the two agree).
TENANT_GROUPS_KEY = "tenant.{}.groups"
TENANT_USERS_KEY = "tenant.{}.users"
NAMESPACE_TENANT_KEY = "namespace.{}"

# Values fixed by tenantctl itself (label keys, API groups), the same for every spec: these stay
# CEL literals in the policies, which are code.
CONSTANTS: dict[str, CelValue] = {
    "sandboxApiGroup": apigroups.SANDBOX_GROUP,
    "sandboxExtensionsApiGroup": apigroups.SANDBOX_EXTENSIONS_GROUP,
    "tenantNamespaceLabel": labels.TENANT_NAMESPACE,
    "tenantLabel": labels.TENANT,
    "specLabel": labels.SPEC_ID,
    "managedByLabel": labels.MANAGED_BY,
    "managedByValue": labels.MANAGED_BY_VALUE,
    "nodeSelectorAnnotation": labels.NODE_SELECTOR,
    "requirePullAlwaysAnnotation": labels.REQUIRE_PULL_ALWAYS,
    "allowNodePortAnnotation": labels.ALLOW_NODEPORT,
    "allowLoadBalancerAnnotation": labels.ALLOW_LOADBALANCER,
    "appArmorAnnotationPrefix": labels.APPARMOR_ANNOTATION_PREFIX,
    "serviceAccountNameAnnotation": labels.SERVICE_ACCOUNT_NAME_ANNOTATION,
    "sandboxPodMarkerLabels": [labels.AGENT_SANDBOX_NAME_HASH, labels.OPENSHELL_SANDBOX_ID],
    "sandboxPodMarkerAnnotations": [labels.OPENSHELL_SANDBOX_ID_ANNOTATION],
}

# Inputs whose parameter is one string; every other parameter is a list.
SCALAR_PARAMETERS = frozenset({"specId", "controllerUser", "sandboxServiceAccount"})


PARAMETERS_PREFIX = "tenantctl-admission-"


def parameters_name(spec_id: str) -> str:
    """The parameter ConfigMap of one spec (several specs may share a gateway namespace)."""
    return f"{PARAMETERS_PREFIX}{spec_id}"


def object_name(source: PolicySource, spec_id: str) -> str:
    """A policy's and its binding's name: the policy, the major version of its CEL, the spec.
    A new major version is a new object, so an upgrade adds it before removing the old one."""
    return f"{source.name}.v{source.version.split('.')[0]}.{spec_id}"


def _lines(value: str | list[str]) -> str:
    items = [value] if isinstance(value, str) else value
    for item in items:
        if "\n" in item:
            raise ValueError(f"admission parameter value {item!r} holds a line break")
    return "\n".join(items)


def parameter_data(tenantset: TenantSet) -> dict[str, str]:
    """The parameter object's data for ``tenantset``: everything spec-specific the CEL reads."""
    data = {name: _lines(compute(tenantset)) for name, compute in PARAMETERS.items()}
    groups, users = _tenant_subjects(tenantset, "groups"), _tenant_subjects(tenantset, "users")
    for tenant in tenantset.tenants:
        data[TENANT_GROUPS_KEY.format(tenant.name)] = _lines(groups[tenant.name])
        data[TENANT_USERS_KEY.format(tenant.name)] = _lines(users[tenant.name])
        for ns in tenant.namespaces:
            data[NAMESPACE_TENANT_KEY.format(ns.name)] = tenant.name
    return dict(sorted(data.items()))


def render_parameters(tenantset: TenantSet) -> Manifest:
    """The ConfigMap every binding of this spec points its policy at (policies/README.md says why
    a ConfigMap), in the gateway's namespace, which exists before tenantctl's output is applied."""
    return manifest(
        "v1",
        "ConfigMap",
        metadata(
            parameters_name(tenantset.spec_id),
            ownership_labels(tenantset),
            namespace=tenantset.platform.gateway.namespace,
        ),
        data=parameter_data(tenantset),
    )


def parameter_expression(name: str) -> str:
    """CEL that reads parameter ``name``: a string, or a list split from its lines. A missing
    key is an evaluation error, which ``failurePolicy: Fail`` turns into a denial."""
    if name in SCALAR_PARAMETERS:
        return f"params.data.{name}"
    return f"params.data.{name} == '' ? [] : params.data.{name}.split('\\n')"


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


def input_variables(source: PolicySource) -> list[dict[str, str]]:
    """The policy's inputs as CEL variables: parameters and constants first, then shared
    expressions. Nothing here depends on a spec."""
    shared = shared_variables()
    known = {**PARAMETERS, **CONSTANTS}
    unknown = [name for name in source.inputs if name not in known and name not in shared]
    if unknown:
        raise KeyError(f"policy {source.name} names unknown inputs {unknown}")
    wanted_shared = [name for name in shared if name in source.inputs]
    direct = {
        *(name for name in source.inputs if name in known),
        *(name for variable in wanted_shared for name in shared[variable].inputs),
    }
    return [
        *(
            {"name": name, "expression": parameter_expression(name)}
            for name in PARAMETERS
            if name in direct
        ),
        *(
            {"name": name, "expression": cel_literal(value)}
            for name, value in CONSTANTS.items()
            if name in direct
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


def with_match_defaults(match: dict[str, Any]) -> dict[str, Any]:
    """`match` with the fields the API server would default spelled out.

    ``matchConstraints`` and ``matchResources`` are atomic: server-side apply compares each as a
    whole, including what the server defaulted (a rule's ``scope`` too). Left implicit, two
    managers applying the same policy (Flux, then ``tenantctl apply``) conflict although nothing
    differs."""
    rules: dict[str, list[dict[str, Any]]] = {
        key: [{**rule, "scope": rule.get("scope", "*")} for rule in match[key]]
        for key in ("resourceRules", "excludeResourceRules")
        if key in match
    }
    return {
        "matchPolicy": "Equivalent",
        "namespaceSelector": {},
        "objectSelector": {},
        **match,
        **rules,
    }


def render_policy(tenantset: TenantSet, source: PolicySource) -> Manifest:
    """The policy as code: the same CEL for every spec; only its name carries the spec id, so
    each spec owns (applies, diffs and prunes) its own copy."""
    return manifest(
        ADMISSION_API,
        "ValidatingAdmissionPolicy",
        metadata(
            object_name(source, tenantset.spec_id),
            ownership_labels(tenantset),
            annotations={
                labels.POLICY_TITLE: source.title,
                labels.POLICY_VERSION: source.version,
            },
        ),
        spec={
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": with_match_defaults(source.match_constraints),
            "variables": [
                *input_variables(source),
                *({"name": v.name, "expression": v.expression} for v in source.variables),
            ],
            "validations": [_validation(source, i) for i in range(len(source.validations))],
        },
    )


def render_binding(tenantset: TenantSet, source: PolicySource) -> Manifest:
    """One binding per policy and spec: this spec's parameters, and (for the per-namespace
    policies) only this spec's tenant namespaces. Missing parameters deny."""
    name = object_name(source, tenantset.spec_id)
    spec: dict[str, Any] = {
        "policyName": name,
        "paramRef": {
            "name": parameters_name(tenantset.spec_id),
            "namespace": tenantset.platform.gateway.namespace,
            "parameterNotFoundAction": "Deny",
        },
        "validationActions": ["Deny"],
    }
    if source.scope == "tenant-namespaces":
        spec["matchResources"] = with_match_defaults(
            {
                "namespaceSelector": {
                    "matchLabels": {
                        labels.SPEC_ID: tenantset.spec_id,
                        labels.TENANT_NAMESPACE: "true",
                    }
                }
            }
        )
    return manifest(
        ADMISSION_API,
        "ValidatingAdmissionPolicyBinding",
        metadata(name, ownership_labels(tenantset)),
        spec=spec,
    )


def render_policies(tenantset: TenantSet) -> list[Manifest]:
    """Every policy of the catalogue, each followed by its binding (the parameters are a
    separate object: ``render_parameters``)."""
    return [
        obj
        for source in catalog()
        for obj in (render_policy(tenantset, source), render_binding(tenantset, source))
    ]


# kube-apiserver watches ConfigMaps for policy parameters only while some bound policy has
# paramKind ConfigMap; once the last one goes, that watch stops and is never restarted, so
# every ConfigMap-parameter policy created afterwards finds no parameters and denies until the
# API server restarts (kubernetes/kubernetes#133827, seen on 1.35: its generic policy source
# starts the shared ConfigMap informer with a context it cancels). This policy and binding keep
# the watch alive: they match a resource nobody serves, belong to no spec (never pruned), and
# stay when every TenantSet has been removed.
INFORMER_ANCHOR = "tenantctl-parameter-informer"


def render_informer_anchor() -> list[Manifest]:
    """A bound ConfigMap-parameter policy that never judges a request; see INFORMER_ANCHOR."""
    policy = manifest(
        ADMISSION_API,
        "ValidatingAdmissionPolicy",
        shared_metadata(INFORMER_ANCHOR),
        spec={
            "failurePolicy": "Ignore",
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": with_match_defaults(
                {
                    "resourceRules": [
                        {
                            "apiGroups": [labels.PREFIX],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["parameterinformeranchors"],
                        }
                    ]
                }
            ),
            "validations": [{"expression": "true"}],
        },
    )
    binding = manifest(
        ADMISSION_API,
        "ValidatingAdmissionPolicyBinding",
        shared_metadata(INFORMER_ANCHOR),
        spec={
            "policyName": INFORMER_ANCHOR,
            "paramRef": {"name": INFORMER_ANCHOR, "parameterNotFoundAction": "Allow"},
            "validationActions": ["Deny"],
        },
    )
    return [policy, binding]
