"""Istio checks: AuthorizationPolicies are only as good as the mTLS underneath them.

An AuthorizationPolicy that matches on ``principals`` or ``namespaces`` trusts the caller's
identity, which only mTLS proves; under PERMISSIVE a plaintext caller has no identity and a
DENY rule on principals never fires (docs/design.md §7). So every namespace holding
an AuthorizationPolicy must run STRICT: a namespace-wide PeerAuthentication, or, when it has none
(or says UNSET), a mesh-wide one in the root namespace; no workload or port override may weaken
it. Istio's own default without any PeerAuthentication is PERMISSIVE.

With a spec, the callers each agent admits (principals and namespaces, from the ALLOW policies
selecting its pods) must equal what the spec lists. Without a spec, no ALLOW rule may admit any
caller, and no principal may come from another tenant's namespace.

In both modes, no ALLOW rule in a tenant namespace may name callers by a pattern (Istio's ``*``,
``prefix*``, ``*suffix``) that matches identities outside the tenant's own namespaces
(``istio.wildcards``): ``principals: ["*"]``, ``namespaces: ["*"]``,
``cluster.local/ns/beta-*``. A pattern that fixes the namespace, such as
``cluster.local/ns/alpha-dev/sa/*``, stays inside it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tenantctl.selectors import Selector
from tenantctl.verify.expectations import AgentExpectation, Expectations
from tenantctl.verify.manifests import Inventory, Manifest, name_of, namespace_of
from tenantctl.verify.results import PLATFORM, Result, failed, passed

ROOT_NAMESPACE = "istio-system"
# What a principal pattern must keep literal to stay inside one namespace: the namespace part.
_PRINCIPAL_PREFIX = re.compile(r"^[^/*]+/ns/([^/*]+)/sa/")
_PRINCIPAL_SUFFIX = re.compile(r"/ns/([^/*]+)/sa/[^/*]+$")
_NARROWING_FIELDS = (
    "notPrincipals",
    "notNamespaces",
    "ipBlocks",
    "notIpBlocks",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
    "requestPrincipals",
    "notRequestPrincipals",
)


def _mode(obj: Mapping[str, Any]) -> str:
    return str(((obj.get("spec") or {}).get("mtls") or {}).get("mode") or "UNSET").upper()


def _selector(obj: Mapping[str, Any]) -> Selector:
    raw = (obj.get("spec") or {}).get("selector") or {}
    return Selector.from_labels({str(k): str(v) for k, v in (raw.get("matchLabels") or {}).items()})


def _effective_mode(
    namespace: str, peer_auths: dict[str, list[Manifest]], root: str
) -> tuple[str, str, list[str]]:
    """(mode, where it comes from, overrides that weaken it) for a namespace."""
    own = peer_auths.get(namespace, [])
    wide = [p for p in own if _selector(p).is_empty()]
    mesh = [p for p in peer_auths.get(root, []) if _selector(p).is_empty()]
    mode, source = "PERMISSIVE", "Istio's default (no PeerAuthentication)"
    if mesh and _mode(mesh[0]) != "UNSET":
        mode, source = _mode(mesh[0]), f"mesh-wide PeerAuthentication {root}/{name_of(mesh[0])}"
    if wide and _mode(wide[0]) != "UNSET":
        mode, source = _mode(wide[0]), f"PeerAuthentication {namespace}/{name_of(wide[0])}"
    weakening = []
    for obj in own:
        spec = obj.get("spec") or {}
        if not _selector(obj).is_empty() and _mode(obj) not in ("STRICT", "UNSET"):
            weakening.append(
                f"PeerAuthentication {namespace}/{name_of(obj)} sets {_mode(obj)} for pods "
                f"{{{_selector(obj)}}}"
            )
        for port, setting in sorted((spec.get("portLevelMtls") or {}).items()):
            port_mode = str((setting or {}).get("mode") or "UNSET").upper()
            if port_mode not in ("STRICT", "UNSET"):
                weakening.append(
                    f"PeerAuthentication {namespace}/{name_of(obj)} sets {port_mode} on port {port}"
                )
    return mode, source, weakening


def _callers(
    policies: list[Manifest], agent_labels: dict[str, str]
) -> tuple[set[str], set[str], list[str]]:
    """Principals and namespaces the ALLOW policies selecting these pods admit, and rules
    that admit anyone or narrow by fields this check does not model."""
    principals: set[str] = set()
    namespaces: set[str] = set()
    broad: list[str] = []
    for policy in policies:
        spec = policy.get("spec") or {}
        if str(spec.get("action") or "ALLOW").upper() != "ALLOW":
            continue
        if not _selector(policy).matches(agent_labels):
            continue
        for index, rule in enumerate(spec.get("rules") or []):
            where = f"AuthorizationPolicy {namespace_of(policy)}/{name_of(policy)} rule {index}"
            sources = rule.get("from") or []
            if not sources:
                broad.append(f"{where} has no 'from': it admits every caller")
            for item in sources:
                source = item.get("source") or {}
                principals.update(source.get("principals") or [])
                namespaces.update(source.get("namespaces") or [])
                extra = [f for f in _NARROWING_FIELDS if f in source]
                if extra:
                    broad.append(f"{where} also matches on {', '.join(extra)}")
                if not source:
                    broad.append(f"{where} has an empty source: it admits every caller")
    return principals, namespaces, broad


def _pattern_escapes(pattern: str, field: str, own: set[str]) -> bool:
    """Whether an Istio match pattern with ``*`` can match a caller outside ``own`` namespaces."""
    if "*" not in pattern:
        return False
    if field == "namespaces" or pattern == "*":
        return True
    if pattern.endswith("*"):
        found = _PRINCIPAL_PREFIX.match(pattern[:-1])
    elif pattern.startswith("*"):
        found = _PRINCIPAL_SUFFIX.search(pattern[1:])
    else:
        return True
    return found is None or found.group(1) not in own


def _wildcards(tenant: str, namespace: str, policies: list[Manifest], own: set[str]) -> Result:
    check = "istio.wildcards"
    problems = []
    for policy in policies:
        spec = policy.get("spec") or {}
        if str(spec.get("action") or "ALLOW").upper() != "ALLOW":
            continue
        for index, rule in enumerate(spec.get("rules") or []):
            for item in rule.get("from") or []:
                source = item.get("source") or {}
                for field in ("principals", "namespaces"):
                    for pattern in source.get(field) or []:
                        if _pattern_escapes(str(pattern), field, own):
                            problems.append(
                                f"{name_of(policy)} rule {index}: {field[:-1]} {pattern} "
                                f"matches callers outside tenant {tenant}'s namespaces"
                            )
    if problems:
        return failed(
            tenant,
            check,
            "an AuthorizationPolicy admits callers by a wildcard that reaches beyond the tenant",
            namespace,
            problems,
        )
    return passed(
        tenant,
        check,
        "no ALLOW rule names callers by a wildcard reaching beyond the tenant",
        namespace,
    )


def check_istio(
    inventory: Inventory, expectations: Expectations, root: str = ROOT_NAMESPACE
) -> list[Result]:
    results: list[Result] = []
    peer_auths = inventory.of_kind_by_namespace("PeerAuthentication")
    by_namespace = inventory.of_kind_by_namespace("AuthorizationPolicy")

    for namespace, policies in sorted(by_namespace.items()):
        tenant = expectations.tenant_of(namespace) or PLATFORM
        mode, source, weakening = _effective_mode(namespace, peer_auths, root)
        names = ", ".join(sorted(name_of(p) for p in policies))
        if mode != "STRICT" or weakening:
            reason = (
                f"AuthorizationPolicies ({names}) run under {mode} mTLS from {source}: "
                "principal and namespace rules trust identities a plaintext caller does not have"
                if mode != "STRICT"
                else "STRICT mTLS is weakened for some pods or ports under AuthorizationPolicies"
            )
            results.append(failed(tenant, "istio.strict-mtls", reason, namespace, weakening))
        else:
            results.append(
                passed(tenant, "istio.strict-mtls", f"STRICT mTLS from {source}", namespace)
            )

    for namespace, policies in sorted(by_namespace.items()):
        owner = expectations.tenant_of(namespace)
        if owner is not None:
            own = set(expectations.tenant(owner).namespaces)
            results.append(_wildcards(owner, namespace, policies, own))

    if expectations.agents is not None:
        for agent in expectations.agents:
            results.append(_agent_result(agent, expectations, by_namespace))
    else:
        results.extend(_inferred_agent_results(expectations, by_namespace))
    return results


def _agent_result(
    agent: AgentExpectation, expectations: Expectations, by_namespace: dict[str, list[Manifest]]
) -> Result:
    tenant = expectations.tenant_of(agent.namespace) or PLATFORM
    check = f"istio.agent.{agent.name}"
    rep = agent.selector.representative() or {}
    principals, namespaces, broad = _callers(by_namespace.get(agent.namespace, []), rep)
    problems = list(broad)
    if not principals and not namespaces and not broad:
        problems.append(
            f"no ALLOW AuthorizationPolicy selects pods {{{agent.selector}}}: every caller "
            "is denied (or, without allow-nothing, admitted)"
        )
    for label, have, want in (
        ("principal", principals, agent.principals),
        ("namespace", namespaces, agent.namespaces),
    ):
        for extra in sorted(have - want):
            problems.append(f"admits {label} {extra}, which the spec does not list")
        for missing in sorted(want - have):
            problems.append(f"does not admit {label} {missing}, which the spec lists")
    if problems:
        return failed(
            tenant,
            check,
            f"callers of agent {agent.name} differ from the spec",
            agent.namespace,
            problems,
        )
    callers = sorted(principals) + [f"namespace {n}" for n in sorted(namespaces)]
    return passed(
        tenant,
        check,
        f"agent {agent.name} admits exactly the spec's callers: {', '.join(callers)}",
        agent.namespace,
    )


def _inferred_agent_results(
    expectations: Expectations, by_namespace: dict[str, list[Manifest]]
) -> list[Result]:
    results = []
    for namespace, policies in sorted(by_namespace.items()):
        tenant = expectations.tenant_of(namespace)
        if tenant is None:
            continue
        problems: list[str] = []
        listed: list[str] = []
        for policy in policies:
            rep = _selector(policy).representative() or {}
            principals, namespaces, broad = _callers([policy], rep)
            problems += broad
            for principal in sorted(principals):
                parts = principal.split("/")
                owner = expectations.tenant_of(parts[2]) if len(parts) >= 5 else None
                if owner not in (None, tenant):
                    problems.append(f"{name_of(policy)} admits {principal} of tenant {owner}")
                listed.append(f"{name_of(policy)}: principal {principal}")
            for caller_ns in sorted(namespaces):
                owner = expectations.tenant_of(caller_ns)
                if owner not in (None, tenant):
                    problems.append(
                        f"{name_of(policy)} admits namespace {caller_ns} of tenant {owner}"
                    )
                listed.append(f"{name_of(policy)}: namespace {caller_ns}")
        if problems:
            results.append(
                failed(
                    tenant,
                    "istio.callers",
                    "an AuthorizationPolicy admits callers of other tenants or every caller",
                    namespace,
                    problems,
                )
            )
        else:
            results.append(
                passed(
                    tenant,
                    "istio.callers",
                    "callers are the tenant's own or platform identities (no spec: listed)",
                    namespace,
                    listed,
                )
            )
    return results
