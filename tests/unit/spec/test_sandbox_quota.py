"""The sandbox count quota: per namespace, from defaults, and split from a tenant budget.

Covers: quota.objects.sandboxes renders as the ResourceQuota key
count/sandboxes.agents.x-k8s.io; spec.defaults apply to every namespace; a tenant budget of
sandboxes is split in whole sandboxes over the namespaces that set no count of their own; counts
over the budget, and a budget that leaves a namespace none, are located problems.
"""

from __future__ import annotations

from collections.abc import Callable

from tenantctl.render.quota import render_resource_quota
from tenantctl.spec.model import TenantSet

from .texts import MINIMAL

Problems = Callable[[str], list[str]]


def with_namespaces(budget: str, namespaces: str) -> str:
    entries = "".join(f"        {line}\n" for line in namespaces.strip("\n").splitlines())
    return MINIMAL.replace(
        "      namespaces:\n        - name: alpha-dev\n",
        f"      budget: {budget}\n      namespaces:\n{entries}",
    )


def hard_of(tenantset: TenantSet) -> dict[str, dict[str, str]]:
    tenant = tenantset.tenants[0]
    quotas = {}
    for namespace in tenant.namespaces:
        manifest = render_resource_quota(tenantset, tenant, namespace)
        assert manifest is not None
        quotas[namespace.name] = manifest["spec"]["hard"]
    return quotas


def test_a_sandbox_count_renders_as_the_object_count_of_sandboxes_agents_x_k8s_io(
    tenantset_of: Callable[[str], TenantSet],
) -> None:
    text = MINIMAL + "          quota: {objects: {sandboxes: 3}}\n"
    assert hard_of(tenantset_of(text))["alpha-dev"]["count/sandboxes.agents.x-k8s.io"] == "3"


def test_a_sandbox_budget_is_split_in_whole_sandboxes_over_namespaces_without_their_own(
    tenantset_of: Callable[[str], TenantSet],
) -> None:
    text = with_namespaces(
        "{sandboxes: 10}",
        "- name: alpha-dev\n"
        "- name: alpha-prod\n"
        "  quota: {objects: {sandboxes: 4}}\n"
        "- name: alpha-test\n"
        "- name: alpha-lab\n",
    )
    counts = {
        name: hard["count/sandboxes.agents.x-k8s.io"]
        for name, hard in hard_of(tenantset_of(text)).items()
    }
    assert counts == {"alpha-dev": "2", "alpha-prod": "4", "alpha-test": "2", "alpha-lab": "2"}


def test_sandbox_counts_over_the_tenant_budget_are_refused(problems_in: Problems) -> None:
    text = with_namespaces(
        "{sandboxes: 5}",
        "- name: alpha-dev\n"
        "  quota: {objects: {sandboxes: 4}}\n"
        "- name: alpha-prod\n"
        "  quota: {objects: {sandboxes: 3}}\n",
    )
    assert problems_in(text) == [
        "13:27: spec.tenants[0].budget.sandboxes: the namespaces' sandbox quotas add up to 7, "
        "over the budget of 5 (lower the namespaces' quota.objects.sandboxes or raise the budget)"
    ]


def test_a_sandbox_budget_used_up_by_explicit_counts_leaves_others_none(
    problems_in: Problems,
) -> None:
    text = with_namespaces(
        "{sandboxes: 4}",
        "- name: alpha-dev\n  quota: {objects: {sandboxes: 4}}\n- name: alpha-prod\n",
    )
    assert problems_in(text) == [
        "13:27: spec.tenants[0].budget.sandboxes: the budget of 4 sandboxes leaves none for some "
        "namespaces (raise the budget or lower the sandbox quotas set explicitly)"
    ]


def test_a_namespace_may_set_no_sandboxes_on_purpose(problems_in: Problems) -> None:
    text = with_namespaces(
        "{sandboxes: 4}",
        "- name: alpha-dev\n  quota: {objects: {sandboxes: 0}}\n- name: alpha-prod\n",
    )
    assert problems_in(text) == []


def test_a_negative_sandbox_count_is_refused(problems_in: Problems) -> None:
    problems = problems_in(MINIMAL + "          quota: {objects: {sandboxes: -1}}\n")
    assert len(problems) == 1
    assert problems[0].startswith("15:")
    assert "spec.tenants[0].namespaces[0].quota.objects.sandboxes" in problems[0]
