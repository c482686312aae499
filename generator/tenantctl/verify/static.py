"""One static verification: every pure analysis over one inventory, gathered into a Verification.

Used for ``tenantctl verify SPEC`` and ``--manifests DIR``, and by live mode on the objects it
reads from the cluster, so a live run proves at least what a static run proves.
"""

from __future__ import annotations

from collections.abc import Iterable

from tenantctl.spec.model import TenantSet
from tenantctl.verify import admission, istio, network, quota, rbac
from tenantctl.verify.expectations import Expectations
from tenantctl.verify.manifests import Inventory, Manifest, without_cycle_collection
from tenantctl.verify.results import PLATFORM, Verification, failed, passed


def verify_inventory(
    inventory: Inventory,
    expectations: Expectations,
    *,
    mode: str = "static",
    cluster_cidrs: Iterable[str] = (),
    builtin_roles: Iterable[Manifest] | None = None,
    tenantset: TenantSet | None = None,
) -> Verification:
    """``tenantset``, when given, is what ``expectations`` came from: the admission check
    then compares the policies with the ones tenantctl renders for it."""
    with without_cycle_collection():
        return _verify(inventory, expectations, mode, cluster_cidrs, builtin_roles, tenantset)


def _verify(
    inventory: Inventory,
    expectations: Expectations,
    mode: str,
    cluster_cidrs: Iterable[str],
    builtin_roles: Iterable[Manifest] | None,
    tenantset: TenantSet | None,
) -> Verification:
    verification = Verification(inventory.source, mode)
    results = verification.results
    if inventory.problems:
        results.append(
            failed(
                PLATFORM,
                "manifests.readable",
                f"{len(inventory.problems)} file(s) could not be read",
                None,
                inventory.problems,
            )
        )
    if not expectations.tenants:
        results.append(
            failed(
                PLATFORM,
                "manifests.tenants",
                "no tenant namespaces found (Namespaces labelled tenantctl.dev/tenant-namespace)",
            )
        )
    else:
        count = len(expectations.tenant_namespaces())
        results.append(
            passed(
                PLATFORM,
                "manifests.tenants",
                f"{len(expectations.tenants)} tenants, {count} namespaces "
                f"({'from the spec' if expectations.from_spec else 'inferred from labels'})",
            )
        )
    analysis = network.analyse_network(inventory, expectations, cluster_cidrs)
    results.extend(analysis.results)
    rbac_results, summaries = rbac.check_rbac(inventory, expectations, builtin_roles)
    results.extend(rbac_results)
    results.extend(istio.check_istio(inventory, expectations))
    results.extend(quota.check_quota(inventory, expectations))
    results.append(admission.check_admission(inventory, tenantset))
    results.append(admission.check_claims(inventory, tenantset))
    verification.permissions = summaries

    order, cells, verdicts, note = network.matrix(analysis, expectations)
    verification.matrix_namespaces = order
    verification.matrix = cells
    verification.matrix_expected = verdicts
    verification.matrix_note = note
    reach = analysis.reachability
    for namespace in expectations.tenant_namespaces():
        lines = []
        for pod in reach.classes_by_namespace.get(namespace, []):
            for flow in reach.external_egress.get(pod.index, []):
                excepts = f" except {', '.join(flow.except_cidrs)}" if flow.except_cidrs else ""
                lines.append(f"{pod} -> {flow.cidr}{excepts}: {flow.ports}")
        if lines:
            verification.external[namespace] = sorted(set(lines))
    return verification
