"""Admission-policy checks: the policies that make a namespace an isolation boundary are there.

RBAC's built-in ``admin`` lets a tenant delete its own default-deny NetworkPolicy, run pods as
the sandbox ServiceAccount and more; tenantctl's ValidatingAdmissionPolicies are what stop that
(policies/README.md). So every policy of the catalogue must be present, bound with ``Deny``, and
(with a spec) carry the validations and variables tenantctl renders for that spec: a policy
whose CEL was edited in the cluster is a policy that no longer says what the audit thinks.
"""

from __future__ import annotations

from typing import Any

from tenantctl.render import policies as render_policies
from tenantctl.spec.model import TenantSet
from tenantctl.verify.manifests import Inventory, name_of
from tenantctl.verify.results import PLATFORM, Result, failed, passed

CHECK = "admission.policies"


def _essence(policy: dict[str, Any]) -> dict[str, Any]:
    """The parts of a policy that decide requests and that the API server does not default."""
    spec = policy.get("spec") or {}
    return {
        "variables": [(v.get("name"), v.get("expression")) for v in spec.get("variables") or []],
        "validations": [
            (v.get("expression"), v.get("messageExpression"), v.get("message"))
            for v in spec.get("validations") or []
        ],
        "failurePolicy": spec.get("failurePolicy", "Fail"),
    }


def check_admission(inventory: Inventory, tenantset: TenantSet | None) -> Result:
    expected = {source.name for source in render_policies.catalog()}
    found = {name_of(p): p for p in inventory.of_kind("ValidatingAdmissionPolicy")}
    bound = {
        (b.get("spec") or {}).get("policyName")
        for b in inventory.of_kind("ValidatingAdmissionPolicyBinding")
        if "Deny" in ((b.get("spec") or {}).get("validationActions") or [])
    }
    problems = [f"{name}: missing" for name in sorted(expected - set(found))]
    problems += [f"{name}: no binding with Deny" for name in sorted(expected & set(found) - bound)]
    if tenantset is not None:
        for rendered in render_policies.render_policies(tenantset):
            name = name_of(rendered)
            if rendered["kind"] != "ValidatingAdmissionPolicy" or name not in found:
                continue
            if _essence(found[name]) != _essence(rendered):
                problems.append(f"{name}: its variables or validations differ from the spec's")
    if len(problems) == 2 * len(expected) or not set(found) & expected:
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
            f"{len(problems)} problem(s) with the {len(expected)} tenantctl admission policies",
            None,
            problems,
        )
    judged = "as the spec renders them" if tenantset is not None else "(no spec: presence only)"
    return passed(
        PLATFORM,
        CHECK,
        f"all {len(expected)} tenantctl admission policies present and bound with Deny {judged}",
        None,
        sorted(expected),
    )
