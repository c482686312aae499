"""One static verification: every pure analysis over one inventory, gathered into a Verification.

Used for ``tenantctl verify SPEC`` and ``--manifests DIR``, and by live mode on the objects it
reads from the cluster, so a live run proves at least what a static run proves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from tenantctl import secondcore
from tenantctl.spec.model import TenantSet
from tenantctl.verify import (
    admission,
    istio,
    istio_enrolment,
    network,
    quota,
    quotafit,
    rbac,
    reserved,
)
from tenantctl.verify.clusternet import ClusterNetworks, resolve
from tenantctl.verify.expectations import Expectations
from tenantctl.verify.manifests import Inventory, Manifest, without_cycle_collection
from tenantctl.verify.results import PLATFORM, Result, Verification, failed, passed
from tenantctl.verify.services import check_services

# A family of checks: its results, and (RBAC only) the permission summary lines per tenant.
Family = tuple[list[Result], dict[str, list[str]]]
# Below this many objects a child process for the checks beside the network analysis costs
# more than it saves (at 10,000 namespaces there are 150,000 objects, and those checks take
# a second).
SPLIT_FROM_OBJECTS = 20000


def _run(families: Sequence[Callable[[], Family]]) -> list[Family]:
    return [family() for family in families]


def verify_inventory(
    inventory: Inventory,
    expectations: Expectations,
    *,
    mode: str = "static",
    cluster_cidrs: Iterable[str] = (),
    builtin_roles: Iterable[Manifest] | None = None,
    tenantset: TenantSet | None = None,
    cluster_networks: ClusterNetworks | None = None,
) -> Verification:
    """``tenantset``, when given, is what ``expectations`` came from: the admission check
    then compares the policies with the ones tenantctl renders for it.

    ``cluster_networks`` (``clusternet.resolve``) wins; otherwise the networks are the spec's
    ``clusterNetworks`` together with ``cluster_cidrs`` (``--cluster-cidr``); with none of
    them, verify assumes the private ranges and says so in the ``network.cluster-networks``
    result."""
    declared = tenantset.cluster_networks if tenantset is not None else None
    networks = cluster_networks or resolve(
        cluster_cidrs,
        declared.pods if declared is not None else (),
        declared.services if declared is not None else (),
    )
    with without_cycle_collection():
        return _verify(inventory, expectations, mode, networks, builtin_roles, tenantset)


def _verify(
    inventory: Inventory,
    expectations: Expectations,
    mode: str,
    networks: ClusterNetworks,
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
    found: list[network.NetworkAnalysis] = []

    def network_family() -> Family:
        found.append(network.analyse_network(inventory, expectations, cluster_networks=networks))
        return found[0].results, {}

    def rbac_family() -> Family:
        return rbac.check_rbac(inventory, expectations, builtin_roles)

    def only(results: list[Result]) -> Family:
        return results, {}

    # In result order. The network analysis runs here; the rest can run in a child meanwhile.
    families: list[Callable[[], Family]] = [
        network_family,
        rbac_family,
        lambda: only(istio.check_istio(inventory, expectations)),
        lambda: only(check_services(inventory, expectations)),
        lambda: only(istio_enrolment.check_enrolment(inventory, expectations)),
        lambda: only(quota.check_quota(inventory, expectations)),
        lambda: only(reserved.check_reserved(expectations, tenantset)),
        lambda: only(quotafit.check_defaults_fit(inventory, expectations)),
        lambda: only([admission.check_admission(inventory, tenantset)]),
        lambda: only([admission.check_claims(inventory, tenantset)]),
    ]
    size = sum(len(objects) for objects in inventory.by_kind.values())
    if size >= SPLIT_FROM_OBJECTS and secondcore.available():
        outcomes = secondcore.split(_run, families, parent_takes=1)
    else:
        outcomes = _run(families)
    for family_results, summaries in outcomes:
        results.extend(family_results)
        verification.permissions.update(summaries)
    analysis = found[0]

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
