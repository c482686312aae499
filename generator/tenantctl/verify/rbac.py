"""RBAC checks: what every tenant identity may do, and where.

For each tenant, its identities are the groups and users the spec names (or, without a spec, the
subjects of tenantctl's own RoleBindings in its namespaces), the ServiceAccounts of its namespaces,
and the groups every identity belongs to (``system:authenticated``, ``system:serviceaccounts``).
Every RoleBinding and ClusterRoleBinding naming one of them is a grant; each grant's role is
resolved to rules, including ClusterRole aggregation (``aggregationRule``), against the built-in
roles (``data/builtin-clusterroles.yaml`` in static mode; the cluster's own in live mode) and
the ClusterRoles in the input.

Failures: a grant in a namespace that is not the tenant's; any ClusterRoleBinding to a tenant
identity (bootstrap bindings the API server creates for every user excepted); cluster-admin (or
any role with ``*`` on ``*``); a role outside the allowed set; a binding to a role that does not
exist; write access to ResourceQuota or LimitRange (MTB: tenants must not change their budget);
a spec binding that is missing.

Every RoleBinding *in* a tenant namespace is judged too, whoever its subjects are: cluster-admin
and ClusterRoles outside the allowed set fail for any subject (the gateway's own write role is
the gateway's alone), and a subject that is neither the tenant's, another tenant's (reported for
that tenant), a manager, the gateway nor the controller fails, as do groups that hold every
identity or every ServiceAccount of some other namespace (``rbac.subjects``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from tenantctl.apigroups import GATEWAY_API_GROUP, GATEWAY_RESOURCE, SANDBOX_GROUP, SANDBOX_RESOURCE
from tenantctl.render import rbac as render_rbac
from tenantctl.selectors import Selector
from tenantctl.verify.expectations import EVERYONE_GROUPS, Expectations, TenantExpectation
from tenantctl.verify.manifests import Inventory, Manifest, name_of, namespace_of
from tenantctl.verify.results import Result, failed, passed

BUILTIN_ROLES_FILE = "builtin-clusterroles.yaml"
SERVICE_ACCOUNT_GROUP_PREFIX = "system:serviceaccounts:"
SERVICE_ACCOUNT_USER_PREFIX = "system:serviceaccount:"
BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
# What the report shows per identity and namespace: (label, verb, API group, resource).
CAPABILITIES = (
    ("create pods", "create", "", "pods"),
    ("exec into pods", "create", "", "pods/exec"),
    ("read secrets", "get", "", "secrets"),
    ("write roles/rolebindings", "create", "rbac.authorization.k8s.io", "rolebindings"),
    ("write networkpolicies", "delete", "networking.k8s.io", "networkpolicies"),
    ("write resourcequotas", "update", "", "resourcequotas"),
    ("create sandboxes (gateway)", "create", GATEWAY_API_GROUP, GATEWAY_RESOURCE),
    ("list sandboxes", "list", SANDBOX_GROUP, SANDBOX_RESOURCE),
)


@cache
def builtin_cluster_roles() -> tuple[Manifest, ...]:
    """The built-in roles captured from the pinned Kubernetes version (see the data file)."""
    text = resources.files("tenantctl.verify").joinpath("data", BUILTIN_ROLES_FILE).read_text()
    return tuple(yaml.safe_load(text)["items"])


def rule_allows(
    rule: Mapping[str, Any], verb: str, group: str, resource: str, name: str = ""
) -> bool:
    if rule.get("nonResourceURLs"):
        return False
    verbs = rule.get("verbs") or []
    groups = rule.get("apiGroups") or []
    kinds = rule.get("resources") or []
    names = rule.get("resourceNames") or []
    if "*" not in verbs and verb not in verbs:
        return False
    if "*" not in groups and group not in groups:
        return False
    _, _, sub = resource.partition("/")
    if not ("*" in kinds or resource in kinds or (sub and f"*/{sub}" in kinds)):
        return False
    return not names or (bool(name) and name in names)


class Roles:
    """Role look-up with aggregation, for one inventory."""

    def __init__(self, inventory: Inventory, builtin: Iterable[Manifest]) -> None:
        self.cluster_roles: dict[str, Manifest] = {name_of(r): r for r in builtin}
        for role in inventory.of_kind("ClusterRole"):
            self.cluster_roles[name_of(role)] = role
        self.roles = {(namespace_of(r), name_of(r)): r for r in inventory.of_kind("Role")}
        self._resolved: dict[str, list[dict[str, Any]]] = {}
        self._tuples: dict[str, tuple[Mapping[str, Any], ...]] = {}

    def cluster_role_rules(
        self, name: str, seen: frozenset[str] = frozenset()
    ) -> list[dict[str, Any]]:
        if name in self._resolved:
            return self._resolved[name]
        role = self.cluster_roles.get(name)
        if role is None:
            return []
        rules = list(role.get("rules") or [])
        aggregation = role.get("aggregationRule") or {}
        selectors = [Selector.parse(s) for s in aggregation.get("clusterRoleSelectors") or []]
        if selectors:
            for other_name, other in sorted(self.cluster_roles.items()):
                if other_name == name or other_name in seen:
                    continue
                found = {str(k): str(v) for k, v in (other["metadata"].get("labels") or {}).items()}
                if any(s.matches(found) for s in selectors):
                    for rule in self.cluster_role_rules(other_name, seen | {name}):
                        if rule not in rules:
                            rules.append(rule)
        self._resolved[name] = rules
        return rules

    def rules(
        self, role_ref: Mapping[str, Any], namespace: str | None
    ) -> tuple[Mapping[str, Any], ...] | None:
        """The rules a roleRef grants, or None when the role does not exist."""
        if role_ref.get("kind") == "Role":
            role_name = role_ref.get("name")
            role = (
                self.roles.get((namespace or "", role_name)) if isinstance(role_name, str) else None
            )
            return None if role is None else tuple(role.get("rules") or [])
        name = str(role_ref.get("name"))
        if name not in self.cluster_roles:
            return None
        if name not in self._tuples:
            self._tuples[name] = tuple(self.cluster_role_rules(name))
        return self._tuples[name]


_ALLOWS: dict[tuple[int, str, str, str], bool] = {}


@dataclass(frozen=True)
class Grant:
    subject: str
    namespace: str | None  # None: cluster-wide (ClusterRoleBinding)
    role: str  # "ClusterRole admin" / "Role alpha-dev/x"
    binding: str
    rules: tuple[Mapping[str, Any], ...] | None  # None: the role does not exist

    def allows(self, verb: str, group: str, resource: str) -> bool:
        # Grants of one role share one rules tuple: decide once per role and question.
        key = (id(self.rules), verb, group, resource)
        if key not in _ALLOWS:
            _ALLOWS[key] = any(rule_allows(r, verb, group, resource) for r in self.rules or ())
        return _ALLOWS[key]

    def where(self) -> str:
        return "cluster-wide" if self.namespace is None else f"in {self.namespace}"


def _subject_text(subject: Mapping[str, Any]) -> str:
    if subject.get("kind") == "ServiceAccount":
        return f"ServiceAccount {subject.get('namespace')}/{subject.get('name')}"
    return f"{subject.get('kind')} {subject.get('name')}"


def identity(subject: Mapping[str, Any], binding_namespace: str) -> str:
    """One spelling per identity: a ServiceAccount's user name becomes ``ServiceAccount ns/name``,
    as ``Expectations.platform_subjects`` spells it."""
    kind, name = subject.get("kind"), str(subject.get("name"))
    if kind == "User" and name.startswith(SERVICE_ACCOUNT_USER_PREFIX):
        parts = name.split(":")
        if len(parts) == 4:
            return f"ServiceAccount {parts[2]}/{parts[3]}"
    if kind == "ServiceAccount":
        return f"ServiceAccount {subject.get('namespace') or binding_namespace}/{name}"
    return f"{kind} {name}"


def _subject_keys(subject: Mapping[str, Any], binding_namespace: str) -> list[tuple[str, str]]:
    """Index keys of a subject: by group, by user, or by the namespace of a ServiceAccount."""
    kind, name = subject.get("kind"), str(subject.get("name"))
    if kind == "Group":
        if name.startswith("system:serviceaccounts:"):
            return [("namespace", name.removeprefix("system:serviceaccounts:"))]
        return [("group", name)]
    if kind == "User":
        parts = name.split(":")
        if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
            return [("namespace", parts[2])]
        return [("user", name)]
    if kind == "ServiceAccount":
        return [("namespace", str(subject.get("namespace") or binding_namespace))]
    return []


class Bindings:
    """Every (binding, subject) pair of an inventory, indexed by who the subject is, so finding
    a tenant's grants costs its own bindings rather than every binding in the cluster."""

    def __init__(self, inventory: Inventory, roles: Roles) -> None:
        self.by_key: dict[tuple[str, str], list[Grant]] = {}
        # RoleBindings per namespace, with each subject as ``identity`` names it.
        self.in_namespace: dict[str, list[tuple[Grant, str]]] = {}
        for kind in ("RoleBinding", "ClusterRoleBinding"):
            for binding in inventory.of_kind(kind):
                meta_labels = binding["metadata"].get("labels") or {}
                if kind == "ClusterRoleBinding" and (
                    meta_labels.get(BOOTSTRAP_LABEL) == "rbac-defaults"
                ):
                    continue
                namespace = namespace_of(binding) if kind == "RoleBinding" else None
                role_ref = binding.get("roleRef") or {}
                rules = roles.rules(role_ref, namespace)
                role = (
                    f"Role {namespace}/{role_ref.get('name')}"
                    if role_ref.get("kind") == "Role"
                    else f"ClusterRole {role_ref.get('name')}"
                )
                where = f"{namespace}/" if namespace else ""
                for subject in binding.get("subjects") or []:
                    grant = Grant(
                        _subject_text(subject),
                        namespace,
                        role,
                        f"{kind} {where}{name_of(binding)}",
                        rules,
                    )
                    for key in _subject_keys(subject, namespace or ""):
                        self.by_key.setdefault(key, []).append(grant)
                    if namespace is not None:
                        self.in_namespace.setdefault(namespace, []).append(
                            (grant, identity(subject, namespace))
                        )

    def grants_of(self, tenant: TenantExpectation) -> list[Grant]:
        keys = [("group", g) for g in sorted(tenant.groups | EVERYONE_GROUPS)]
        keys += [("user", u) for u in sorted(tenant.users)]
        keys += [("namespace", ns) for ns in tenant.namespaces]
        found: dict[int, Grant] = {}
        for key in keys:
            for grant in self.by_key.get(key, ()):
                found.setdefault(id(grant), grant)
        return list(found.values())


def _is_everything(grant: Grant) -> bool:
    if grant.role == "ClusterRole cluster-admin":
        return True
    # Grants of one role share one rules tuple (see Grant.allows): judge it once.
    key = id(grant.rules)
    found = _EVERYTHING.get(key)
    if found is None:
        found = _EVERYTHING[key] = any(
            "*" in (r.get("verbs") or [])
            and "*" in (r.get("resources") or [])
            and "*" in (r.get("apiGroups") or [])
            for r in grant.rules or ()
        )
    return found


_EVERYTHING: dict[int, bool] = {}


def _line(grant: Grant) -> str:
    return f"{grant.subject} -> {grant.role} {grant.where()} ({grant.binding})"


class _Owners:
    """Which tenants a group or user belongs to, for telling other tenants' subjects apart."""

    def __init__(self, expectations: Expectations) -> None:
        self.expectations = expectations
        self.groups: dict[str, set[str]] = {}
        self.users: dict[str, set[str]] = {}
        for tenant in expectations.tenants:
            for group in tenant.groups:
                self.groups.setdefault(group, set()).add(tenant.name)
            for user in tenant.users:
                self.users.setdefault(user, set()).add(tenant.name)

    def stranger(self, subject: str, namespace: str | None = None) -> str | None:
        """Why ``subject`` may not hold rights in a tenant namespace, or None if it may: it is
        a tenant's identity (another tenant's is reported by ``rbac.other-namespaces``), the
        platform's, or the tenant gateway of ``namespace``'s tenant."""
        if _own_tenant_gateway(subject, namespace, self.expectations):
            return None
        kind, _, name = subject.partition(" ")
        if kind == "Group" and name in EVERYONE_GROUPS:
            return "a group every identity is in"
        if kind == "Group" and name.startswith(SERVICE_ACCOUNT_GROUP_PREFIX):
            namespace = name.removeprefix(SERVICE_ACCOUNT_GROUP_PREFIX)
            if self.expectations.tenant_of(namespace) is not None:
                return None
            return f"every ServiceAccount of namespace {namespace}"
        if subject in self.expectations.platform_subjects:
            return None
        if kind == "Group" and name in self.groups:
            return None
        if kind == "User" and name in self.users:
            return None
        if kind == "ServiceAccount":
            namespace = name.split("/", 1)[0]
            if self.expectations.tenant_of(namespace) is not None:
                return None
        return "neither the tenant's, a manager, the gateway nor the controller"


def _own_tenant_gateway(subject: str, namespace: str | None, expectations: Expectations) -> bool:
    tenant = expectations.tenant_gateways.get(subject)
    if tenant is None or namespace is None:
        return False
    return expectations.tenant_of(namespace) == tenant


def _role_allowed(grant: Grant, subject: str, expectations: Expectations) -> bool:
    if not grant.role.startswith("ClusterRole "):
        return True
    name = grant.role.removeprefix("ClusterRole ")
    if name in expectations.allowed_cluster_roles:
        return True
    # The gateway writes Sandboxes through its own role, bound in every tenant namespace; a
    # tenant gateway through the same role, in its own tenant's namespaces only.
    return name == render_rbac.GATEWAY_WRITE_ROLE and (
        (subject.startswith("ServiceAccount ") and subject in expectations.platform_subjects)
        or _own_tenant_gateway(subject, grant.namespace, expectations)
    )


def check_rbac(
    inventory: Inventory, expectations: Expectations, builtin: Iterable[Manifest] | None = None
) -> tuple[list[Result], dict[str, list[str]]]:
    """Results per tenant, and the permission summary lines per tenant for the report."""
    roles = Roles(inventory, builtin_cluster_roles() if builtin is None else builtin)
    bindings = Bindings(inventory, roles)
    _ALLOWS.clear()
    _EVERYTHING.clear()
    _QUOTA_WRITES.clear()
    _CAPABLE.clear()
    owners = _Owners(expectations)
    results: list[Result] = []
    summaries: dict[str, list[str]] = {}
    for tenant in expectations.tenants:
        own = set(tenant.namespaces)
        grants = bindings.grants_of(tenant)
        # Every RoleBinding in the tenant's namespaces, whoever it names.
        local = [pair for ns in tenant.namespaces for pair in bindings.in_namespace.get(ns, ())]
        everything = {id(g): g for g in grants if _is_everything(g)}
        everything.update((id(g), g) for g, _ in local if _is_everything(g))

        def verdict(
            check: str, bad: list[str], fail: str, ok: str, name: str = tenant.name
        ) -> None:
            if bad:
                results.append(failed(name, check, fail, None, sorted(set(bad))))
            else:
                results.append(passed(name, check, ok))

        verdict(
            "rbac.other-namespaces",
            [_line(g) for g in grants if g.namespace is not None and g.namespace not in own],
            "a tenant identity is granted access in a namespace that is not the tenant's",
            "every grant is in the tenant's own namespaces",
        )
        verdict(
            "rbac.cluster-scoped",
            [_line(g) for g in grants if g.namespace is None],
            "a ClusterRoleBinding grants a tenant identity rights in every namespace",
            "no ClusterRoleBinding names a tenant identity",
        )
        verdict(
            "rbac.cluster-admin",
            [_line(g) for g in everything.values()],
            "cluster-admin (every verb on every resource) is bound to a tenant identity or "
            "in a tenant namespace",
            "no tenant identity and nobody in the tenant's namespaces is bound to cluster-admin",
        )
        verdict(
            "rbac.missing-role",
            [_line(g) for g in grants if g.rules is None],
            "a binding refers to a role that does not exist: whoever creates it later "
            "decides what the tenant gets",
            "every binding resolves to an existing role",
        )
        verdict(
            "rbac.allowed-roles",
            [_line(g) for g, subject in local if not _role_allowed(g, subject, expectations)],
            "a RoleBinding in a tenant namespace uses a ClusterRole outside the allowed set "
            f"({', '.join(sorted(expectations.allowed_cluster_roles))})",
            "bindings in the tenant's namespaces use only the allowed ClusterRoles",
        )
        strangers = []
        for grant, subject in local:
            why = owners.stranger(subject, grant.namespace)
            if why is not None:
                strangers.append(f"{_line(grant)}: {why}")
        verdict(
            "rbac.subjects",
            strangers,
            "a subject that is not the tenant's, a manager, the gateway or the controller "
            "holds rights in a tenant namespace",
            "every subject bound in the tenant's namespaces is the tenant's or the platform's",
        )
        verdict(
            "rbac.quota-write",
            [
                f"{_line(g)} allows {verb} {resource}"
                for g in grants
                for resource, verb in _quota_writes(g)
            ],
            "a tenant identity can change its own ResourceQuota or LimitRange",
            "no tenant identity can change a ResourceQuota or LimitRange",
        )
        if expectations.from_spec:
            missing = []
            present = {(g.subject, g.namespace, g.role) for g in grants}
            for role, (groups, users) in sorted(tenant.roles.items()):
                for namespace in tenant.namespaces:
                    for kind, names in (("Group", groups), ("User", users)):
                        for name in names:
                            if (f"{kind} {name}", namespace, f"ClusterRole {role}") not in present:
                                missing.append(
                                    f"{kind} {name} -> ClusterRole {role} in {namespace}"
                                )
            verdict(
                "rbac.spec-bindings",
                missing,
                "a role binding the spec asks for is missing",
                "every role binding the spec asks for is present",
            )
        summaries[tenant.name] = _summary(grants)
    return results, summaries


def _summary(grants: list[Grant]) -> list[str]:
    lines = []
    by_subject: dict[tuple[str, str], list[Grant]] = {}
    for grant in grants:
        by_subject.setdefault((grant.subject, grant.where()), []).append(grant)
    for (subject, where), found in sorted(by_subject.items()):
        role_names = ", ".join(sorted({g.role.split(" ", 1)[1] for g in found}))
        key = frozenset(id(g.rules) for g in found)
        can = _CAPABLE.get(key)
        if can is None:
            can = _CAPABLE[key] = [
                label
                for label, verb, group, resource in CAPABILITIES
                if any(g.allows(verb, group, resource) for g in found)
            ]
        lines.append(f"{subject} {where}: {role_names}; can {', '.join(can) or 'nothing listed'}")
    return lines


# Keyed, like _ALLOWS, by the ids of rules tuples that live as long as one check_rbac run,
# which clears them first.
_QUOTA_WRITES: dict[int, list[tuple[str, str]]] = {}
_CAPABLE: dict[frozenset[int], list[str]] = {}


def _quota_writes(grant: Grant) -> list[tuple[str, str]]:
    """(resource, verb) pairs of the writes to ResourceQuotas and LimitRanges ``grant`` allows,
    in the order the rbac.quota-write lines list them."""
    key = id(grant.rules)
    found = _QUOTA_WRITES.get(key)
    if found is None:
        found = _QUOTA_WRITES[key] = [
            (resource, verb)
            for resource in ("resourcequotas", "limitranges")
            for verb in WRITE_VERBS
            if grant.allows(verb, "", resource)
        ]
    return found
