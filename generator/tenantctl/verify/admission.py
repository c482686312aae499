"""Admission-policy checks: the policies that make a namespace an isolation boundary are there.

RBAC's built-in ``admin`` lets a tenant delete its own default-deny NetworkPolicy, run pods as
the sandbox ServiceAccount and more; tenantctl's ValidatingAdmissionPolicies are what stop that
(policies/README.md). So every policy of the catalogue must be present and bound with ``Deny``
to parameters that exist (a binding that reads missing parameters denies everything it matches,
which is safe but breaks the tenant). With a spec, each policy must carry the CEL tenantctl
renders, each binding point at the spec's parameter ConfigMap and its namespaces, and the
parameters hold the spec's data: the policies are code, so what they enforce for a spec is
decided by those parameters, and a parameter edited in the cluster is a policy that no longer
says what the audit thinks.
"""

from __future__ import annotations

from typing import Any

from tenantctl import labels
from tenantctl.policies import PolicySource
from tenantctl.render import policies as render_policies
from tenantctl.spec.model import TenantSet
from tenantctl.verify.manifests import Inventory, name_of
from tenantctl.verify.results import PLATFORM, Result, failed, passed

CHECK = "admission.policies"


def _essence(policy: dict[str, Any]) -> dict[str, Any]:
    """The parts of a policy that decide requests and that the API server does not default."""
    spec = policy.get("spec") or {}
    return {
        "paramKind": spec.get("paramKind"),
        "variables": [(v.get("name"), v.get("expression")) for v in spec.get("variables") or []],
        "validations": [
            (v.get("expression"), v.get("messageExpression"), v.get("message"))
            for v in spec.get("validations") or []
        ],
        "failurePolicy": spec.get("failurePolicy", "Fail"),
    }


def _binding_essence(binding: dict[str, Any]) -> dict[str, Any]:
    spec = binding.get("spec") or {}
    return {
        "paramRef": spec.get("paramRef"),
        "namespaceSelector": (spec.get("matchResources") or {}).get("namespaceSelector"),
    }


def _of_catalogue(source: PolicySource, name: str) -> bool:
    """A policy object of ``source``: any version, any spec (or the unversioned literal one)."""
    return name == source.name or name.startswith(source.name + ".")


def _parameters(inventory: Inventory, ref: dict[str, Any]) -> dict[str, Any] | None:
    for obj in inventory.of_kind("ConfigMap"):
        meta = obj.get("metadata") or {}
        if meta.get("name") == ref.get("name") and meta.get("namespace") == ref.get("namespace"):
            return obj
    return None


def _deny_bindings(inventory: Inventory) -> dict[str, list[dict[str, Any]]]:
    bound: dict[str, list[dict[str, Any]]] = {}
    for binding in inventory.of_kind("ValidatingAdmissionPolicyBinding"):
        spec = binding.get("spec") or {}
        if "Deny" in (spec.get("validationActions") or []):
            bound.setdefault(spec.get("policyName"), []).append(binding)
    return bound


def _against_spec(
    inventory: Inventory, tenantset: TenantSet, found: dict[str, dict[str, Any]]
) -> list[str]:
    """Problems of the spec's own policies, bindings and parameters."""
    problems: list[str] = []
    bindings = {name_of(b): b for b in inventory.of_kind("ValidatingAdmissionPolicyBinding")}
    for source in render_policies.catalog():
        name = render_policies.object_name(source, tenantset.spec_id)
        if name not in found:
            continue
        if _essence(found[name]) != _essence(render_policies.render_policy(tenantset, source)):
            problems.append(f"{name}: its variables or validations differ from the spec's")
        rendered = render_policies.render_binding(tenantset, source)
        live = bindings.get(name)
        if live is not None and _binding_essence(live) != _binding_essence(rendered):
            problems.append(
                f"{name}: its binding's parameters or namespaces differ from the spec's"
            )
    expected = render_policies.render_parameters(tenantset)
    meta = expected["metadata"]
    where = f"ConfigMap {meta['namespace']}/{meta['name']}"
    live_parameters = _parameters(inventory, {"name": meta["name"], "namespace": meta["namespace"]})
    if live_parameters is None:
        problems.append(f"{where}: missing (the policies' parameters: every binding denies)")
    else:
        want, have = expected["data"], live_parameters.get("data") or {}
        differ = sorted(k for k in want.keys() | have.keys() if want.get(k) != have.get(k))
        if differ:
            problems.append(f"{where}: parameters differ from the spec's: {', '.join(differ)}")
    return problems


def check_admission(inventory: Inventory, tenantset: TenantSet | None) -> Result:
    catalogue = render_policies.catalog()
    found = {name_of(p): p for p in inventory.of_kind("ValidatingAdmissionPolicy")}
    bound = _deny_bindings(inventory)
    problems: list[str] = []
    present = 0
    for source in catalogue:
        if tenantset is not None:
            names = [render_policies.object_name(source, tenantset.spec_id)]
            names = [n for n in names if n in found]
        else:
            names = sorted(n for n in found if _of_catalogue(source, n))
        if not names:
            problems.append(f"{source.name}: missing")
            continue
        present += 1
        for name in names:
            if name not in bound:
                problems.append(f"{name}: no binding with Deny")
                continue
            for binding in bound[name]:
                ref = (binding.get("spec") or {}).get("paramRef")
                if "paramKind" not in (found[name].get("spec") or {}):
                    continue  # the unversioned policies of tenantctl before parameters
                if not ref or ref.get("parameterNotFoundAction") != "Deny":
                    problems.append(f"{name_of(binding)}: parameters must deny when missing")
                elif _parameters(inventory, ref) is None:
                    problems.append(
                        f"{name_of(binding)}: its parameters ConfigMap "
                        f"{ref.get('namespace')}/{ref.get('name')} is missing"
                    )
    if tenantset is not None:
        problems += _against_spec(inventory, tenantset, found)
    expected = len(catalogue)
    if not present:
        return failed(
            PLATFORM,
            CHECK,
            "no tenantctl admission policies: tenants can delete their default deny, relabel "
            "namespaces and run pods as the sandbox account",
            None,
            problems,
        )
    if problems:
        return failed(
            PLATFORM,
            CHECK,
            f"{len(problems)} problem(s) with the {expected} tenantctl admission policies",
            None,
            problems,
        )
    judged = "as the spec renders them" if tenantset is not None else "(no spec: presence only)"
    return passed(
        PLATFORM,
        CHECK,
        f"all {expected} tenantctl admission policies present and bound with Deny {judged}",
        None,
        sorted(source.name for source in catalogue),
    )


CLAIMS_CHECK = "admission.claims"


def _claims_of(parameters: dict[str, Any]) -> tuple[str, set[str], set[str]]:
    """(spec id, namespaces, tenant identities) that one spec's parameter ConfigMap claims."""
    data = parameters.get("data") or {}
    prefix, suffixes = render_policies.NAMESPACE_TENANT_KEY.format(""), (".groups", ".users")
    namespaces = {key.removeprefix(prefix) for key in data if key.startswith(prefix)}
    identities = {
        f"{key.rsplit('.', 1)[1][:-1]} {name}"
        for key, value in data.items()
        if key.startswith("tenant.") and key.endswith(suffixes)
        for name in str(value).split("\n")
        if name
    }
    return str(data.get("specId", name_of(parameters))), namespaces, identities


def check_claims(inventory: Inventory, tenantset: TenantSet | None) -> Result:
    """No namespace or tenant identity is claimed by two TenantSets on the cluster (each spec's
    parameter ConfigMap lists what it claims), and none of the spec's namespaces carries another
    spec's id: each spec's policies know only their own tenants, so a shared identity holds both
    tenants' rights and neither spec's policies can stop it."""
    owners: dict[str, set[str]] = {}
    specs = set()
    for parameters in inventory.of_kind("ConfigMap"):
        data = parameters.get("data") or {}
        if "specId" not in data or "tenants" not in data:
            continue
        spec_id, namespaces, identities = _claims_of(parameters)
        specs.add(spec_id)
        for claim in {f"namespace {name}" for name in namespaces} | identities:
            owners.setdefault(claim, set()).add(spec_id)
    problems = [
        f"{claim}: claimed by TenantSets {', '.join(sorted(ids))}"
        for claim, ids in sorted(owners.items())
        if len(ids) > 1
    ]
    if tenantset is not None:
        for namespace in tenantset.namespaces():
            other = inventory.namespace_labels(namespace.name).get(labels.SPEC_ID)
            if other and other != tenantset.spec_id:
                problems.append(
                    f"namespace {namespace.name}: labelled as TenantSet {other}'s, "
                    f"not {tenantset.spec_id}'s"
                )
    if problems:
        return failed(
            PLATFORM,
            CLAIMS_CHECK,
            f"{len(problems)} namespace(s) or identities claimed by two TenantSets",
            None,
            problems,
        )
    return passed(
        PLATFORM,
        CLAIMS_CHECK,
        f"no namespace or identity claimed twice among {len(specs)} TenantSet(s)' parameters",
        None,
        sorted(specs),
    )
